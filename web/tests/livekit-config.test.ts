import { describe, expect, it } from 'vitest';

import { ConfigError, parsePageConfig } from '../src/config';
import { explainLiveKitEnd, explainLiveKitJoinFailure } from '../src/livekit-state';

const livekit = {
    engine: 'livekit',
    livekit: { url: 'wss://sfu.example.com', token: 'jwt' },
    role: 'host',
    identity: 'u1-abc',
    displayName: 'Dana Reyes',
    startMuted: true,
    channelTitle: 'Design',
    conversation: false,
    controls: { url: 'https://mb.example.com/api/meetings/m1', token: 'ctl' },
};

describe('parsePageConfig', () => {
    it('reads a LiveKit config', () => {
        expect(parsePageConfig(livekit)).toEqual({
            ...livekit,
            livekit: { url: 'wss://sfu.example.com', token: 'jwt' },
        });
    });

    it('treats a config without engine as Pexip (pages rendered before the engine seam)', () => {
        const config = parsePageConfig({ host: 'https://pexip.example.com', alias: 'a', displayName: 'D' });
        expect(config.engine).toBe('pexip');
    });

    it('mutes by default in channels, not in conversations', () => {
        const { startMuted: _, ...rest } = livekit;
        expect(parsePageConfig(rest).startMuted).toBe(true);
        expect(parsePageConfig({ ...rest, conversation: true }).startMuted).toBe(false);
    });

    it('accepts plain ws and http on loopback only, and a same-origin controls path', () => {
        const local = {
            ...livekit,
            livekit: { url: 'ws://127.0.0.1:7880', token: 'jwt' },
            controls: { url: '/api/meetings/m1', token: 'ctl' },
        };
        const config = parsePageConfig(local);
        expect(config.engine === 'livekit' && config.controls.url).toBe('/api/meetings/m1');
    });

    it.each([
        ['an unknown engine', { ...livekit, engine: 'jitsi' }],
        ['plain ws off loopback', { ...livekit, livekit: { url: 'ws://sfu.example.com', token: 'jwt' } }],
        ['no token', { ...livekit, livekit: { url: 'wss://sfu.example.com' } }],
        ['no controls', { ...livekit, controls: undefined }],
        ['plain http controls off loopback', { ...livekit, controls: { url: 'http://mb.example.com/c', token: 't' } }],
        ['an unknown role', { ...livekit, role: 'admin' }],
        ['no identity', { ...livekit, identity: '' }],
        ['a non-boolean startMuted', { ...livekit, startMuted: 'yes' }],
    ])('refuses %s', (_what, raw) => {
        expect(() => parsePageConfig(raw)).toThrow(ConfigError);
    });
});

describe('explainLiveKitJoinFailure', () => {
    it.each([
        [401, undefined, 'refused'],
        [404, undefined, 'not-found'],
        [500, undefined, 'unavailable'],
        [undefined, 1, 'unreachable'],
        [undefined, 5, 'unreachable'],
        [400, 6, 'refused'],
    ])('HTTP %s, reason %s is %s', (status, reason, kind) => {
        expect(explainLiveKitJoinFailure(status, reason, 'sfu.example.com').kind).toBe(kind);
    });
});

describe('explainLiveKitEnd', () => {
    it('ends for good on removal and room deletion, retries otherwise', () => {
        expect(explainLiveKitEnd('PARTICIPANT_REMOVED')).toEqual({ ended: true, message: 'You were removed from the meeting.' });
        expect(explainLiveKitEnd('ROOM_DELETED').ended).toBe(true);
        expect(explainLiveKitEnd('SIGNAL_CLOSE')).toEqual({
            ended: false,
            message: 'The connection to the meeting was lost (signal close). Retry to join again.',
        });
        expect(explainLiveKitEnd(undefined).ended).toBe(false);
    });
});
