/**
 * Live captions, pure (no DOM, no SDK): reading a caption line from meetbridge's captioner
 * (hostile input: anything malformed is dropped), whether the room has captions on (its
 * metadata), which lines to show, and whether this user hides them (kept in the browser).
 *
 * A line is partial while its speaker talks and replaced by its final text once they pause
 * (same `id`); the page shows the last few lines, each for a few seconds.
 */

export const CAPTIONS_TOPIC = 'meetbridge.captions';
export const MAX_LINES = 3;
export const LINGER_MS = 8000; // a line stays this long after its last change
export const HIDDEN_KEY = 'meetbridge.captions.hidden';

const MAX_ID = 300;
const MAX_NAME = 200;
const MAX_TEXT = 1000;

export interface Caption {
    /** The utterance: its partial and final lines share it. */
    id: string;
    /** The speaker's LiveKit identity, and name as meetbridge knows it. */
    identity: string;
    name: string;
    text: string;
    final: boolean;
}

export interface ShownCaption extends Caption {
    /** When this page last changed the line (ms, the page's clock). */
    shownAt: number;
}

type Raw = Record<string, unknown>;

const isRecord = (value: unknown): value is Raw =>
    typeof value === 'object' && value !== null && !Array.isArray(value);

const str = (raw: Raw, key: string, max: number): string | null => {
    const value = raw[key];
    return typeof value === 'string' && value.length <= max ? value : null;
};

const decoder = new TextDecoder('utf-8', { fatal: true });

/** A caption line, or null for anything that is not one (never throws). */
export const parseCaption = (payload: Uint8Array | string): Caption | null => {
    let raw: unknown;
    try {
        raw = JSON.parse(typeof payload === 'string' ? payload : decoder.decode(payload));
    } catch {
        return null;
    }
    if (!isRecord(raw)) {
        return null;
    }
    const id = str(raw, 'id', MAX_ID);
    const identity = str(raw, 'identity', MAX_NAME);
    const name = str(raw, 'name', MAX_NAME);
    const text = str(raw, 'text', MAX_TEXT);
    const final = raw['final'];
    if (!id || !identity || name === null || !text?.trim() || typeof final !== 'boolean') {
        return null;
    }
    return { id, identity, name: name || identity, text: text.trim(), final };
};

/** Since when the room has captions on (ms), from its metadata; null when off or not
 * meetbridge's metadata (never throws). On means a time and the captioner that makes them. */
export const captionsSince = (metadata: string | undefined): number | null => {
    if (!metadata) {
        return null;
    }
    let raw: unknown;
    try {
        raw = JSON.parse(metadata);
    } catch {
        return null;
    }
    if (!isRecord(raw) || typeof raw['captioner'] !== 'string') {
        return null;
    }
    const since = raw['captions'];
    return typeof since === 'number' && Number.isFinite(since) && since >= 0 ? since : null;
};

/**
 * The lines after `caption` arrived: it replaces the line of the same utterance (a late partial
 * never replaces its final), or comes last; only the newest MAX_LINES are kept.
 */
export const addCaption = (lines: readonly ShownCaption[], caption: Caption, now: number): ShownCaption[] => {
    const index = lines.findIndex(line => line.id === caption.id);
    if (index >= 0) {
        const current = lines[index]!;
        if (current.final && !caption.final) {
            return [...lines];
        }
        const updated = [...lines];
        updated[index] = { ...caption, shownAt: now };
        return updated;
    }
    return [...lines, { ...caption, shownAt: now }].slice(-MAX_LINES);
};

/** The lines still worth showing at `now` (each lingers LINGER_MS after its last change). */
export const currentCaptions = (lines: readonly ShownCaption[], now: number): ShownCaption[] =>
    lines.filter(line => now - line.shownAt < LINGER_MS);

/** Whether this user chose to hide captions (in this browser); unreadable storage: shown. */
export const captionsHidden = (storage: Pick<Storage, 'getItem'> | null): boolean => {
    try {
        return storage?.getItem(HIDDEN_KEY) === 'true';
    } catch {
        return false;
    }
};

export const saveCaptionsHidden = (storage: Pick<Storage, 'setItem'> | null, hidden: boolean): void => {
    try {
        storage?.setItem(HIDDEN_KEY, hidden ? 'true' : 'false');
    } catch {
        // Private browsing may refuse storage: the choice then lasts for this page only.
    }
};
