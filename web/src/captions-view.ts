/**
 * The captions on the page: the "Captions" badge everyone sees while they are on, the lines
 * (speaker's name and words, as text: never markup), the user's Hide/Show captions button and
 * the host's Turn on/off button. Final lines are announced politely to screen readers; partial
 * ones change too often to be read out, so they are shown only.
 */

import type { ShownCaption } from './captions';

export interface CaptionActions {
    /** The host's button: captions on or off for the whole meeting. */
    toggleCaptions(): void;
    /** Everyone's button: hide or show captions on this page. */
    toggleHidden(): void;
}

export class CaptionsView {
    private readonly badge: HTMLElement;
    private readonly region: HTMLElement;
    private readonly list: HTMLOListElement;
    private readonly hideButton: HTMLButtonElement;
    private readonly hostButton: HTMLButtonElement;
    private readonly items = new Map<string, HTMLLIElement>();

    constructor(doc: Document, actions: CaptionActions) {
        const get = <T extends HTMLElement>(id: string): T => {
            const element = doc.getElementById(id);
            if (!element) {
                throw new Error(`meeting page element #${id} is missing`);
            }
            return element as T;
        };
        this.badge = get('mb-captions-badge');
        this.region = get('mb-captions');
        this.list = get('mb-caption-list');
        this.hideButton = get('mb-captions-toggle');
        this.hostButton = get('mb-captions-control');
        this.hideButton.addEventListener('click', () => actions.toggleHidden());
        this.hostButton.addEventListener('click', () => actions.toggleCaptions());
    }

    /** Whether the host's button is offered (the engine can be captioned). */
    offerToHost(available: boolean): void {
        this.hostButton.hidden = !available;
    }

    /** Whether the meeting has captions on, and whether this user hides them. */
    setState(on: boolean, hidden: boolean): void {
        this.badge.hidden = !on;
        this.hideButton.hidden = !on;
        this.hideButton.setAttribute('aria-pressed', String(hidden));
        this.hideButton.textContent = hidden ? 'Show captions' : 'Hide captions';
        this.region.hidden = !on || hidden;
        this.hostButton.textContent = on ? 'Turn off captions' : 'Turn on captions';
        if (!on) {
            this.render([]);
        }
    }

    render(lines: readonly ShownCaption[]): void {
        const keep = new Set(lines.map(line => line.id));
        for (const [id, item] of this.items) {
            if (!keep.has(id)) {
                item.remove();
                this.items.delete(id);
            }
        }
        for (const line of lines) {
            let item = this.items.get(line.id);
            if (!item) {
                item = this.list.ownerDocument.createElement('li');
                const name = this.list.ownerDocument.createElement('span');
                name.className = 'mb-caption-name';
                const text = this.list.ownerDocument.createElement('span');
                text.className = 'mb-caption-text';
                item.append(name, text);
                this.items.set(line.id, item);
            }
            this.list.append(item); // in the order of the lines
            item.dataset['final'] = String(line.final);
            item.dataset['identity'] = line.identity;
            item.setAttribute('aria-hidden', String(!line.final));
            (item.firstElementChild as HTMLElement).textContent = `${line.name}: `;
            (item.lastElementChild as HTMLElement).textContent = line.text;
        }
    }
}
