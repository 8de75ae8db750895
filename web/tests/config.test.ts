import { describe, expect, it } from 'vitest';

import { ConfigError, nodeBaseUrl, parseConfig } from '../src/config';

const base = {
    host: 'https://pexip.example.com',
    node: 'pexip.example.com',
    alias: 'matt-abc',
    displayName: 'Dana Reyes',
    pin: '602914',
    callTag: 'mbu.u.sig',
    startMuted: true,
    channelTitle: 'Design',
    conversation: false,
    directMedia: false,
    webapp3Url: 'https://pexip.example.com/webapp3/m/matt-abc/express',
    role: 'participant',
};

describe('parseConfig', () => {
    it('keeps every field the server renders', () => {
        expect(parseConfig(base)).toEqual(base);
    });

    it('reads the role and meetbridge\'s control API when the server gives them', () => {
        const config = parseConfig({
            ...base,
            role: 'host',
            controls: { url: '/api/meetings/controls', token: 'bearer' },
        });
        expect(config.role).toBe('host');
        expect(config.controls).toEqual({ url: '/api/meetings/controls', token: 'bearer' });
        expect(parseConfig(base).controls).toBeUndefined();
        expect(() => parseConfig({ ...base, role: 'chair' })).toThrow(/"role" must be/);
        expect(() => parseConfig({ ...base, controls: { url: 'http://evil.example/x', token: 't' } })).toThrow(
            /must be reached over https/,
        );
    });

    it('trims text and drops a trailing slash from the host', () => {
        const config = parseConfig({ ...base, host: 'https://pexip.example.com/', alias: ' matt-abc ' });
        expect(config.host).toBe('https://pexip.example.com');
        expect(config.alias).toBe('matt-abc');
    });

    it('derives the host from the node when there is no host', () => {
        const config = parseConfig({ ...base, host: undefined, node: '127.0.0.1:8443' });
        expect(config.host).toBe('https://127.0.0.1:8443');
        expect(config.node).toBe('127.0.0.1:8443');
    });

    it('derives the node from the host when there is no node', () => {
        expect(parseConfig({ ...base, node: '' }).node).toBe('pexip.example.com');
    });

    it('starts muted in channels and unmuted in conversations by default', () => {
        const { startMuted: _ignored, ...rest } = base;
        expect(parseConfig({ ...rest, conversation: false }).startMuted).toBe(true);
        expect(parseConfig({ ...rest, conversation: true }).startMuted).toBe(false);
    });

    it('follows an explicit startMuted', () => {
        expect(parseConfig({ ...base, conversation: true, startMuted: true }).startMuted).toBe(true);
    });

    it('allows an empty PIN and call tag', () => {
        const config = parseConfig({ ...base, pin: '', callTag: null });
        expect(config.pin).toBe('');
        expect(config.callTag).toBe('');
    });

    it.each([
        [null, /missing or malformed/],
        [[], /missing or malformed/],
        [{ ...base, alias: '' }, /"alias" is empty/],
        [{ ...base, alias: undefined }, /no "alias"/],
        [{ ...base, displayName: 42 }, /"displayName" must be text/],
        [{ ...base, startMuted: 'yes' }, /"startMuted" must be true or false/],
        [{ ...base, host: 'http://pexip.example.com' }, /over https/],
        [{ ...base, host: 'not a url' }, /not a valid/],
        [{ ...base, host: '', node: '' }, /no Pexip Conferencing Node/],
    ])('rejects %j', (raw, message) => {
        expect(() => parseConfig(raw)).toThrow(ConfigError);
        expect(() => parseConfig(raw)).toThrow(message);
    });
});

describe('nodeBaseUrl', () => {
    it('accepts plain http only for a loopback test node', () => {
        expect(nodeBaseUrl('http://127.0.0.1:9000', '')).toBe('http://127.0.0.1:9000');
        expect(() => nodeBaseUrl('http://10.0.0.1', '')).toThrow(ConfigError);
    });
});
