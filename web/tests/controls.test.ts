import { describe, expect, it } from 'vitest';

import { MeetingControls, refusalText } from '../src/controls';

describe('MeetingControls', () => {
    it('posts the action as JSON with the bearer token', async () => {
        const seen: { url: string; init: RequestInit }[] = [];
        const controls = new MeetingControls({ url: 'https://mb.example/api/meetings/m1/', token: 'tok' }, async (url, init) => {
            seen.push({ url: String(url), init: init ?? {} });
            return new Response(null, { status: 204 });
        });
        expect(await controls.send('mute', { identity: 'bob' })).toEqual({ ok: true });
        expect(seen).toHaveLength(1);
        expect(seen[0]!.url).toBe('https://mb.example/api/meetings/m1/mute');
        expect(seen[0]!.init.method).toBe('POST');
        expect(seen[0]!.init.body).toBe('{"identity":"bob"}');
        expect(new Headers(seen[0]!.init.headers).get('Authorization')).toBe('Bearer tok');
    });

    it('sends numbers as numbers, and a report made while leaving with keepalive', async () => {
        const seen: RequestInit[] = [];
        const controls = new MeetingControls({ url: '/c', token: 't' }, async (_url, init) => {
            seen.push(init ?? {});
            return new Response(null, { status: 204 });
        });
        await controls.send('stats', { sendKbps: 512.5, rttMs: 38 }, true);
        await controls.send('chat', { text: 'hi' });
        expect(seen[0]!.body).toBe('{"sendKbps":512.5,"rttMs":38}');
        expect(seen[0]!.keepalive).toBe(true);
        expect(seen[1]!.keepalive).toBe(false);
        expect(seen[1]!.credentials).toBe('omit');
    });

    it("returns the server's words when refused", async () => {
        const controls = new MeetingControls({ url: '/c', token: 't' }, async () =>
            Response.json({ error: 'Only a host can mute others.' }, { status: 403 }),
        );
        expect(await controls.send('mute', { identity: 'x' })).toEqual({ ok: false, error: 'Only a host can mute others.' });
    });

    it('explains a network failure', async () => {
        const controls = new MeetingControls({ url: '/c', token: 't' }, async () => {
            throw new TypeError('Failed to fetch');
        });
        const result = await controls.send('end');
        expect(result.ok).toBe(false);
    });
});

describe('refusalText', () => {
    it.each([
        ['not JSON', 'oops', 'meetbridge refused this (HTTP 500).'],
        ['no error field', '{"detail": "x"}', 'meetbridge refused this (HTTP 500).'],
        ['an empty error', '{"error": "  "}', 'meetbridge refused this (HTTP 500).'],
        ['a number', '{"error": 3}', 'meetbridge refused this (HTTP 500).'],
    ])('falls back on a generic text for %s', (_what, body, expected) => {
        expect(refusalText(500, body)).toBe(expected);
    });

    it('cuts an overlong error', () => {
        expect(refusalText(403, JSON.stringify({ error: 'x'.repeat(1000) }))).toHaveLength(300);
    });
});
