// The plugin's styles, added once to the page. Colours follow the web app's theme variables
// (with fall-backs for a page without them); every class starts with "mb-".
const CSS = `
.mb-icon { vertical-align: middle; }
.mb-call-button, .mb-call-dropdown { display: inline-flex; align-items: center; gap: 6px; cursor: pointer; }
.mb-card { border: 1px solid rgba(var(--center-channel-color-rgb, 63,67,80), 0.16); border-left: 4px solid #3db887;
  border-radius: 4px; padding: 10px 12px; margin: 4px 0; max-width: 560px;
  background: var(--center-channel-bg, #fff); color: var(--center-channel-color, #3f4350); font-size: 14px; }
.mb-card--ended { border-left-color: #8d93a5; }
.mb-card--plain { border-left-color: #1c58d9; }
.mb-card__title { display: flex; align-items: center; gap: 8px; }
.mb-card__duration { margin-left: auto; font-variant-numeric: tabular-nums; color: #3db887; font-weight: 600; }
.mb-card__meta { opacity: 0.72; margin: 4px 0 6px; }
.mb-card__label { font-weight: 600; margin: 6px 0 4px; }
.mb-card__note { opacity: 0.72; font-size: 12px; margin: 6px 0 0; }
.mb-card__actions { display: flex; gap: 8px; margin-top: 8px; }
.mb-roster { list-style: none; padding: 0; margin: 0; display: flex; flex-wrap: wrap; gap: 6px 12px; }
.mb-roster__person { display: inline-flex; align-items: center; gap: 6px; }
.mb-avatar { width: 24px; height: 24px; border-radius: 50%; background: #1c58d9; color: #fff; font-size: 11px;
  display: inline-flex; align-items: center; justify-content: center; font-weight: 600; object-fit: cover; }
.mb-button { border: 1px solid rgba(63,67,80,0.24); background: transparent; color: inherit; border-radius: 4px;
  padding: 4px 12px; font: inherit; cursor: pointer; text-decoration: none; }
.mb-button:disabled { opacity: 0.5; cursor: default; }
.mb-button--primary { background: var(--button-bg, #1c58d9); border-color: transparent; color: var(--button-color, #fff); }
.mb-button--danger { background: var(--error-text, #d24b4e); border-color: transparent; color: #fff; }
.mb-calls { position: fixed; left: 16px; bottom: 16px; z-index: 1000; display: flex; flex-direction: column; gap: 8px; }
.mb-call { display: flex; align-items: center; gap: 10px; padding: 12px 14px; border-radius: 8px; min-width: 320px;
  background: #1e325c; color: #fff; box-shadow: 0 8px 24px rgba(0,0,0,0.24); }
.mb-call .mb-button:not(.mb-button--primary) { border-color: rgba(255,255,255,0.4); }
.mb-call--missed { background: #5d3a3a; }
.mb-call__who { font-weight: 600; }
.mb-call__where { opacity: 0.8; }
.mb-live { display: inline-flex; margin-left: 6px; color: #3db887; }
.mb-dock { position: fixed; top: 56px; right: 16px; bottom: 16px; width: min(640px, 48vw); z-index: 900;
  display: flex; flex-direction: column; background: #111; border-radius: 8px; overflow: hidden;
  box-shadow: 0 8px 24px rgba(0,0,0,0.32); }
.mb-dock__bar { display: flex; align-items: center; gap: 8px; padding: 6px 8px; color: #fff; background: #1e325c; }
.mb-dock__title { flex: 1; font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.mb-dock__bar .mb-button { border-color: rgba(255,255,255,0.4); }
.mb-dock__frame { flex: 1; border: 0; width: 100%; background: #000; }
.mb-notice { position: fixed; right: 16px; bottom: 16px; z-index: 1001; display: flex; gap: 10px; align-items: center;
  padding: 10px 12px; border-radius: 6px; background: #fff3cd; color: #3f4350; box-shadow: 0 4px 12px rgba(0,0,0,0.2); }
`;

export function addStyles(): void {
    const id = 'meetbridge-companion-styles';
    if (document.getElementById(id)) {
        return;
    }
    const style = document.createElement('style');
    style.id = id;
    style.textContent = CSS;
    document.head.appendChild(style);
}
