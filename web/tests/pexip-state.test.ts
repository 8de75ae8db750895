import { describe, expect, it } from 'vitest';

import { chatLine, handsQueue, sameHands } from '../src/pexip-state';

const view = (uuid: string, handRaisedTime: number) => ({ uuid, displayName: `name ${uuid}`, handRaisedTime });

describe('handsQueue', () => {
    it('lists raised hands (Infinity buzz) earliest first and leaves out the others', () => {
        expect(handsQueue([view('b', 20), view('x', 0), view('a', 10)])).toEqual([
            { identity: 'a', name: 'name a', at: 10 },
            { identity: 'b', name: 'name b', at: 20 },
        ]);
    });

    it('tells an unchanged queue from a changed one by who is in it, in order', () => {
        const queue = handsQueue([view('a', 1), view('b', 2)]);
        expect(sameHands(queue, handsQueue([view('a', 5), view('b', 6)]))).toBe(true);
        expect(sameHands(queue, handsQueue([view('b', 1), view('a', 2)]))).toBe(false);
        expect(sameHands(queue, [])).toBe(false);
    });
});

describe('chatLine', () => {
    const message = { id: 'm1', text: 'hello', from: 'Dana Reyes', at: 5 };

    it("is the sender's own line when they are in the roster", () => {
        expect(chatLine(message, true)).toEqual({ id: 'm1', name: 'Dana Reyes', text: 'hello', at: 5, source: 'meeting' });
    });

    it("is a Mattermost thread reply when meetbridge's chair session relays it", () => {
        const relayed = { ...message, from: 'meetbridge', text: 'Carol: see you at ten: sharp' };
        expect(chatLine(relayed, false)).toEqual({
            id: 'm1',
            name: 'Carol',
            text: 'see you at ten: sharp',
            at: 5,
            source: 'mattermost',
        });
    });

    it('keeps a relayed line without an author as it is', () => {
        expect(chatLine({ ...message, from: '', text: 'no author here' }, false).name).toBe('Someone');
    });
});
