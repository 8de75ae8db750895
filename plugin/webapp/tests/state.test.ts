import { describe, expect, it } from 'vitest';

import { catalogueFor, translate } from '../src/i18n';
import { describeElapsed, meetingCardOf } from '../src/post-card';
import {
    initialState,
    withCallState,
    withIncomingCall,
    withMeetingsInProgress,
    withMeetingState,
} from '../src/state';

const CHANNEL = 'c'.repeat(26);

describe('meeting state events', () => {
    it('mark a channel live on STARTED and clear it on ENDED', () => {
        const started = withMeetingState(initialState, { channel_id: CHANNEL, status: 'STARTED', topic: 'Review', participants: 2 });
        expect(started.live[CHANNEL]).toEqual({ channelId: CHANNEL, topic: 'Review', participants: 2 });
        expect(withMeetingState(started, { channel_id: CHANNEL, status: 'ENDED' }).live).toEqual({});
    });

    it('ignore malformed events without changing anything', () => {
        for (const data of [{}, { channel_id: 5, status: 'STARTED' }, { channel_id: CHANNEL, status: 'WHAT' }]) {
            expect(withMeetingState(initialState, data)).toBe(initialState);
        }
    });
});

describe('the list of meetings in progress', () => {
    it('replaces what events said, and a failed answer changes nothing', () => {
        const stale = withMeetingState(initialState, { channel_id: 'x'.repeat(26), status: 'STARTED' });
        const listed = withMeetingsInProgress(stale, { meetings: [{ channel_id: CHANNEL, topic: 'T', participants: 1 }, { nope: 1 }] });
        expect(Object.keys(listed.live)).toEqual([CHANNEL]);
        expect(withMeetingsInProgress(stale, null)).toBe(stale);
    });

    it('brings in the calls ringing now, unless this window already answered them', () => {
        const call = { ring_id: 9, channel_id: CHANNEL, caller: 'alice', conversation: 'DM', state: 'ringing' };
        const fresh = withMeetingsInProgress(initialState, { meetings: [], calls: [call, 'junk'] });
        expect(fresh.calls.map(c => [c.ringId, c.state])).toEqual([[9, 'ringing']]);
        const ignored = withCallState(fresh, 9, 'ignored');
        expect(withMeetingsInProgress(ignored, { meetings: [], calls: [call] }).calls[0]?.state).toBe('ignored');
    });

    it('learns the bot whose posts are cards, keeping what it knew over a malformed id', () => {
        const known = withMeetingsInProgress(initialState, { meetings: [], bot_user_id: 'b'.repeat(26) });
        expect(known.botUserId).toBe('b'.repeat(26));
        expect(withMeetingsInProgress(known, { meetings: [], bot_user_id: '<script>' }).botUserId).toBe('b'.repeat(26));
    });
});

describe('incoming calls', () => {
    const ringing = { ring_id: 4, channel_id: CHANNEL, caller: 'alice', conversation: 'DM', state: 'ringing' };

    it('ring, then turn into a missed call', () => {
        const rung = withIncomingCall(initialState, ringing);
        expect(rung.calls.map(c => c.state)).toEqual(['ringing']);
        expect(withIncomingCall(rung, { ...ringing, state: 'missed' }).calls.map(c => c.state)).toEqual(['missed']);
    });

    it('stay quiet after Ignore or Join even when the call later times out', () => {
        for (const answer of ['ignored', 'answered'] as const) {
            const answered = withCallState(withIncomingCall(initialState, ringing), 4, answer);
            expect(withIncomingCall(answered, { ...ringing, state: 'missed' })).toBe(answered);
        }
    });

    it('close in every window once meetbridge says the call was ignored', () => {
        const elsewhere = withIncomingCall(withIncomingCall(initialState, ringing), { ...ringing, state: 'ignored' });
        expect(elsewhere.calls.map(c => c.state)).toEqual(['ignored']);
    });

    it('refuse events without a numeric ring id or a known state', () => {
        expect(withIncomingCall(initialState, { ...ringing, ring_id: '4' })).toBe(initialState);
        expect(withIncomingCall(initialState, { ...ringing, state: 'boom' })).toBe(initialState);
    });
});

describe('meeting cards from post props', () => {
    it('read a live card and only well-formed action ids', () => {
        const card = meetingCardOf({
            meeting_status: 'STARTED',
            meeting_topic: 'Plan',
            meeting_participants: [
                { name: 'alice', user_id: 'a'.repeat(26) },
                7,
                { name: 'bob', user_id: '../../admin' },
                { user_id: 'c'.repeat(26) },
            ],
            meeting_started_at: 1000,
            meeting_link: 'javascript:alert(1)',
            attachments: [{ actions: [{ id: 'join' }, { id: 'leave' }, { id: '../x' }] }],
        });
        expect(card?.people).toEqual([
            { name: 'alice', userId: 'a'.repeat(26) },
            { name: 'bob', userId: '' }, // not an id: no avatar URL made from it
        ]);
        expect(card?.actions).toEqual(['join', 'leave']);
        expect(card?.canJoinHere).toBe(true);
        expect(card?.link).toBe('');
        expect(card?.ownApps).toBe(false);
    });

    it('say when some may be in the engine\'s own app, only for a literal true', () => {
        const props = { meeting_status: 'STARTED', meeting_provider: 'Pexip Infinity' };
        expect(meetingCardOf({ ...props, meeting_own_apps: true })?.ownApps).toBe(true);
        expect(meetingCardOf({ ...props, meeting_own_apps: 'true' })?.ownApps).toBe(false);
    });

    it('are not made from posts without a meeting status', () => {
        expect(meetingCardOf({ ring_state: 'ringing' })).toBeNull();
    });

    it('tick in minutes and seconds, then hours', () => {
        expect(describeElapsed(7_000)).toBe('0:07');
        expect(describeElapsed(3_723_000)).toBe('1:02:03');
        expect(describeElapsed(-5)).toBe('0:00');
    });
});

describe('translations', () => {
    it('follow the locale, falling back to English', () => {
        expect(translate('de', 'ring.calling', { caller: 'Alice' })).toBe('Alice ruft Sie an');
        expect(translate('pt-BR', 'card.join')).toBe('Join');
        expect(Object.keys(catalogueFor('de')).sort()).toEqual(Object.keys(catalogueFor('en')).sort());
    });
});

describe('the manifest', () => {
    it('names the same plugin id and the bundle this build writes', async () => {
        const { readFileSync } = await import('node:fs');
        const manifest = JSON.parse(readFileSync(new URL('../../plugin.json', import.meta.url), 'utf8'));
        const { PLUGIN_ID } = await import('../src/manifest');
        expect(manifest.id).toBe(PLUGIN_ID);
        expect(manifest.webapp.bundle_path).toBe('webapp/dist/main.js');
    });
});
