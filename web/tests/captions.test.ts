import { describe, expect, it } from 'vitest';

import {
    addCaption,
    type Caption,
    captionsHidden,
    captionsSince,
    currentCaptions,
    HIDDEN_KEY,
    LINGER_MS,
    MAX_LINES,
    parseCaption,
    saveCaptionsHidden,
} from '../src/captions';

const line = (id: string, text: string, final: boolean): Caption => ({
    id,
    identity: 'alice-1',
    name: 'Alice',
    text,
    final,
});

describe('parseCaption', () => {
    it('reads a caption line', () => {
        const payload = JSON.stringify({ id: 'a#1', identity: 'a', name: 'Alice', text: ' Hello ', final: true, at: 5 });
        expect(parseCaption(new TextEncoder().encode(payload))).toEqual({
            id: 'a#1',
            identity: 'a',
            name: 'Alice',
            text: 'Hello',
            final: true,
        });
    });

    it('names an unnamed speaker by identity', () => {
        expect(parseCaption(JSON.stringify({ id: 'a#1', identity: 'a', name: '', text: 'x', final: false }))?.name).toBe('a');
    });

    it.each([
        ['not JSON', '{'],
        ['not UTF-8', new Uint8Array([0xff, 0xfe])],
        ['an array', '[]'],
        ['no text', JSON.stringify({ id: 'a#1', identity: 'a', name: 'A', final: true })],
        ['blank text', JSON.stringify({ id: 'a#1', identity: 'a', name: 'A', text: '  ', final: true })],
        ['final not a boolean', JSON.stringify({ id: 'a#1', identity: 'a', name: 'A', text: 'x', final: 'yes' })],
        ['name not a string', JSON.stringify({ id: 'a#1', identity: 'a', name: 7, text: 'x', final: true })],
        ['no id', JSON.stringify({ identity: 'a', name: 'A', text: 'x', final: true })],
        ['a huge text', JSON.stringify({ id: 'a#1', identity: 'a', name: 'A', text: 'x'.repeat(1001), final: true })],
    ])('drops %s', (_what, payload) => {
        expect(parseCaption(payload)).toBeNull();
    });
});

describe('captionsSince', () => {
    it('is the time while the metadata names a captioner', () => {
        expect(captionsSince(JSON.stringify({ host: 'u', captions: 1700, captioner: 'meetbridge-captioner-1' }))).toBe(1700);
    });

    it.each([
        ['no metadata', undefined],
        ['not JSON', 'x'],
        ['captions off', JSON.stringify({ host: 'u', recording: 5 })],
        ['no captioner', JSON.stringify({ captions: 5 })],
        ['a negative time', JSON.stringify({ captions: -1, captioner: 'c' })],
        ['a string time', JSON.stringify({ captions: '5', captioner: 'c' })],
    ])('is null for %s', (_what, metadata) => {
        expect(captionsSince(metadata)).toBeNull();
    });
});

describe('addCaption', () => {
    it('replaces the partial line of an utterance with its final one', () => {
        let lines = addCaption([], line('a#1', 'The meet', false), 0);
        lines = addCaption(lines, line('a#1', 'The meeting will start', true), 10);
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatchObject({ text: 'The meeting will start', final: true, shownAt: 10 });
    });

    it('never replaces a final line by a late partial one', () => {
        let lines = addCaption([], line('a#1', 'The meeting will start', true), 0);
        lines = addCaption(lines, line('a#1', 'The meet', false), 10);
        expect(lines[0]).toMatchObject({ text: 'The meeting will start', final: true, shownAt: 0 });
    });

    it('keeps the newest lines only, in the order they came', () => {
        let lines: ReturnType<typeof addCaption> = [];
        for (let n = 1; n <= MAX_LINES + 2; n += 1) {
            lines = addCaption(lines, line(`a#${n}`, `line ${n}`, true), n);
        }
        expect(lines.map(shown => shown.text)).toEqual(
            Array.from({ length: MAX_LINES }, (_, i) => `line ${i + 3}`),
        );
    });
});

describe('currentCaptions', () => {
    it('lets a line linger, then drops it', () => {
        const lines = addCaption(addCaption([], line('a#1', 'old', true), 0), line('a#2', 'new', false), 5000);
        expect(currentCaptions(lines, LINGER_MS - 1).map(shown => shown.text)).toEqual(['old', 'new']);
        expect(currentCaptions(lines, LINGER_MS).map(shown => shown.text)).toEqual(['new']);
        expect(currentCaptions(lines, 5000 + LINGER_MS)).toEqual([]);
    });
});

describe('hiding captions', () => {
    const memory = (): Storage => {
        const values = new Map<string, string>();
        return {
            getItem: (key: string) => values.get(key) ?? null,
            setItem: (key: string, value: string) => void values.set(key, value),
        } as Storage;
    };

    it('is remembered in the browser', () => {
        const storage = memory();
        expect(captionsHidden(storage)).toBe(false);
        saveCaptionsHidden(storage, true);
        expect(storage.getItem(HIDDEN_KEY)).toBe('true');
        expect(captionsHidden(storage)).toBe(true);
        saveCaptionsHidden(storage, false);
        expect(captionsHidden(storage)).toBe(false);
    });

    it('shows captions when storage is missing or refuses', () => {
        const refusing = {
            getItem: () => {
                throw new Error('denied');
            },
            setItem: () => {
                throw new Error('denied');
            },
        } as unknown as Storage;
        expect(captionsHidden(null)).toBe(false);
        expect(captionsHidden(refusing)).toBe(false);
        expect(() => saveCaptionsHidden(refusing, true)).not.toThrow();
    });
});
