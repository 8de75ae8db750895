import { describe, expect, it } from 'vitest';

import type { ChatLine, EngineParticipant } from '../src/engine';
import {
    addChatLine,
    groupRoster,
    orderHands,
    parseMessage,
    personTags,
    ReactionLimiter,
    recordingSince,
} from '../src/social';

const connection = (overrides: Partial<EngineParticipant>): EngineParticipant => ({
    id: 'c1',
    userId: '',
    displayName: 'Someone',
    isMe: false,
    isHost: false,
    isMuted: false,
    isCameraMuted: false,
    isPresenting: false,
    isWaiting: false,
    isSpeaking: false,
    quality: 'good',
    ...overrides,
});

const bytes = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

describe('orderHands', () => {
    it('orders by the time each hand went up, ties by identity', () => {
        const queue = orderHands([
            { identity: 'b', name: 'B', at: 20 },
            { identity: 'c', name: 'C', at: 10 },
            { identity: 'a', name: 'A', at: 20 },
        ]);
        expect(queue.map(entry => entry.identity)).toEqual(['c', 'a', 'b']);
    });

    it('keeps one entry per identity, the earliest', () => {
        const queue = orderHands([
            { identity: 'a', name: 'A', at: 30 },
            { identity: 'a', name: 'A', at: 5 },
            { identity: 'b', name: 'B', at: 10 },
        ]);
        expect(queue).toEqual([
            { identity: 'a', name: 'A', at: 5 },
            { identity: 'b', name: 'B', at: 10 },
        ]);
    });
});

describe('parseMessage', () => {
    it('reads each topic of the contract', () => {
        expect(parseMessage('meetbridge.hands', bytes({ queue: [{ identity: 'x', name: 'X', at: 2 }, { identity: 'y', name: 'Y', at: 1 }] }))).toEqual({
            topic: 'meetbridge.hands',
            queue: [
                { identity: 'y', name: 'Y', at: 1 },
                { identity: 'x', name: 'X', at: 2 },
            ],
        });
        expect(parseMessage('meetbridge.reaction', bytes({ identity: 'x', name: 'X', emoji: '👍' }))).toEqual({
            topic: 'meetbridge.reaction',
            identity: 'x',
            name: 'X',
            emoji: '👍',
        });
        expect(parseMessage('meetbridge.chat', bytes({ id: '1', name: 'X', text: 'hi', at: 3, source: 'mattermost' }))).toEqual({
            topic: 'meetbridge.chat',
            line: { id: '1', name: 'X', text: 'hi', at: 3, source: 'mattermost' },
        });
        expect(parseMessage('meetbridge.notice', bytes({ kind: 'removed', text: 'Bye' }))).toEqual({
            topic: 'meetbridge.notice',
            kind: 'removed',
            text: 'Bye',
        });
    });

    it.each([
        ['unknown topic', 'other', bytes({ queue: [] })],
        ['no topic', undefined, bytes({ queue: [] })],
        ['invalid UTF-8', 'meetbridge.chat', new Uint8Array([0xff, 0xfe])],
        ['not JSON', 'meetbridge.chat', 'nope'],
        ['an array', 'meetbridge.hands', bytes([1])],
        ['a hand without identity', 'meetbridge.hands', bytes({ queue: [{ name: 'X', at: 1 }] })],
        ['a hand with a negative time', 'meetbridge.hands', bytes({ queue: [{ identity: 'x', name: 'X', at: -1 }] })],
        ['a queue that is not a list', 'meetbridge.hands', bytes({ queue: 'x' })],
        ['a sentence as emoji', 'meetbridge.reaction', bytes({ identity: 'x', name: 'X', emoji: 'a'.repeat(40) })],
        ['an empty emoji', 'meetbridge.reaction', bytes({ identity: 'x', name: 'X', emoji: '' })],
        ['chat without text', 'meetbridge.chat', bytes({ id: '1', name: 'X', at: 1, source: 'meeting' })],
        ['chat from elsewhere', 'meetbridge.chat', bytes({ id: '1', name: 'X', text: 'hi', at: 1, source: 'irc' })],
        ['chat with a huge text', 'meetbridge.chat', bytes({ id: '1', name: 'X', text: 'a'.repeat(5000), at: 1, source: 'meeting' })],
        ['an unknown notice', 'meetbridge.notice', bytes({ kind: 'reboot', text: 'x' })],
    ])('drops %s', (_what, topic, payload) => {
        expect(parseMessage(topic, payload)).toBeNull();
    });
});

describe('ReactionLimiter', () => {
    it('allows three reactions per five seconds, sliding', () => {
        const limiter = new ReactionLimiter(3, 5000);
        expect([0, 100, 200, 300].map(t => limiter.allow(t))).toEqual([true, true, true, false]);
        expect(limiter.allow(4999)).toBe(false);
        expect(limiter.allow(5000)).toBe(true); // the first one left the window
        expect(limiter.allow(5050)).toBe(false);
    });

    it('does not count refused attempts', () => {
        const limiter = new ReactionLimiter(1, 1000);
        expect(limiter.allow(0)).toBe(true);
        for (let t = 1; t < 1000; t += 100) {
            expect(limiter.allow(t)).toBe(false);
        }
        expect(limiter.allow(1000)).toBe(true);
    });
});

describe('groupRoster', () => {
    it('shows one entry per person, whatever the number of devices', () => {
        const people = groupRoster([
            connection({ id: 'bob-laptop', userId: 'u-bob', displayName: 'Bob', isMuted: true }),
            connection({ id: 'bob-phone', userId: 'u-bob', displayName: 'Bob', isMuted: false, quality: 'poor' }),
            connection({ id: 'me', userId: 'u-me', displayName: 'Me', isMe: true }),
        ]);
        expect(people.map(p => [p.key, p.ids])).toEqual([
            ['user:u-me', ['me']],
            ['user:u-bob', ['bob-laptop', 'bob-phone']],
        ]);
        const bob = people[1]!;
        expect(bob.isMuted).toBe(false); // one live microphone is enough to be heard
        expect(bob.quality).toBe('poor');
        expect(personTags(bob)).toEqual(['2 devices', 'connection poor']);
    });

    it('keeps connections without a user apart', () => {
        const people = groupRoster([
            connection({ id: 'a', displayName: 'Guest' }),
            connection({ id: 'b', displayName: 'Guest' }),
        ]);
        expect(people).toHaveLength(2);
    });

    it('is host when any device is host, and places raised hands first in queue order', () => {
        const people = groupRoster(
            [
                connection({ id: 'me', userId: 'u-me', displayName: 'Zed', isMe: true }),
                connection({ id: 'a', userId: 'u-a', displayName: 'Ann' }),
                connection({ id: 'b1', userId: 'u-b', displayName: 'Ben' }),
                connection({ id: 'b2', userId: 'u-b', displayName: 'Ben', isHost: true }),
                connection({ id: 'c', userId: 'u-c', displayName: 'Cy' }),
            ],
            [
                { identity: 'c', name: 'Cy', at: 1 },
                { identity: 'b2', name: 'Ben', at: 2 },
            ],
        );
        expect(people.map(p => [p.displayName, p.hand])).toEqual([
            ['Zed', 0],
            ['Cy', 1],
            ['Ben', 2],
            ['Ann', 0],
        ]);
        expect(people[2]!.isHost).toBe(true);
    });
});

describe('addChatLine', () => {
    const line = (id: string, at: number) => ({ id, name: 'X', text: id, at, source: 'meeting' as const });

    it('adds a line once, in time order', () => {
        let lines = addChatLine([], line('b', 2));
        lines = addChatLine(lines, line('a', 1));
        lines = addChatLine(lines, line('b', 2));
        expect(lines.map(l => l.id)).toEqual(['a', 'b']);
    });

    it('keeps the newest lines', () => {
        let lines: ChatLine[] = [line('a', 1)];
        for (let i = 2; i <= 5; i += 1) {
            lines = addChatLine(lines, line(`m${i}`, i), 3);
        }
        expect(lines.map(l => l.id)).toEqual(['m3', 'm4', 'm5']);
    });
});

describe('recording', () => {
    it('takes the recording and captions notices, the captioner saying it was interrupted included', () => {
        const kinds = ['recording-started', 'recording-stopped', 'recording-reminder'];
        for (const kind of [...kinds, 'captions-started', 'captions-stopped', 'captions-interrupted']) {
            const text = `notice ${kind}`;
            expect(parseMessage('meetbridge.notice', new TextEncoder().encode(JSON.stringify({ kind, text })))).toEqual(
                { topic: 'meetbridge.notice', kind, text },
            );
        }
    });

    it('reads since when the meeting is recorded from the room metadata', () => {
        expect(recordingSince('{"host": "u1", "removed": [], "recording": 1700000000000}')).toBe(1700000000000);
    });

    it('says not recorded for metadata without a recording, or not meetbridge\'s', () => {
        for (const metadata of [undefined, '', '{"host": "u1"}', 'not json', '[1]', '{"recording": -5}',
            '{"recording": "yes"}', '{"recording": null}']) {
            expect(recordingSince(metadata)).toBeNull();
        }
    });
});
