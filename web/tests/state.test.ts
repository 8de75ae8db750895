import { describe, expect, it } from 'vitest';

import {
    canRetry,
    canToggleMain,
    explainEffectsFailure,
    explainEnd,
    explainJoinFailure,
    inCall,
    initialConnection,
    initialLayout,
    layoutView,
    MAX_AUTOMATIC_REJOINS,
    phaseOf,
    recoveryFor,
    reduceConnection,
    reduceLayout,
    statusText,
    type ConnectionEvent,
    type ConnectionState,
    type LayoutEvent,
    type LayoutState,
} from '../src/state';

const run = (...events: ConnectionEvent[]): ConnectionState =>
    events.reduce(reduceConnection, initialConnection);

const layout = (...events: LayoutEvent[]): LayoutState => events.reduce(reduceLayout, initialLayout);

const refused = { type: 'failed', failure: { kind: 'pin-refused', message: 'PIN refused' } } as const;

describe('connection state machine', () => {
    it('connects, waits for others, then is in the meeting', () => {
        expect(phaseOf(run({ type: 'join' }))).toBe('connecting');
        expect(phaseOf(run({ type: 'join' }, { type: 'joined' }))).toBe('waiting');
        const met = run({ type: 'join' }, { type: 'joined' }, { type: 'participants', others: 2 });
        expect(phaseOf(met)).toBe('in-meeting');
        expect(statusText(met)).toBe('In meeting with 2 other people');
        expect(inCall(met)).toBe(true);
    });

    it('says whom it waits for', () => {
        expect(statusText(run({ type: 'join' }, { type: 'joined' }))).toBe('Waiting for others to join');
        const host = run(
            { type: 'join' },
            { type: 'joined' },
            { type: 'participants', others: 1 },
            { type: 'waiting-for-host', waiting: true },
        );
        expect(phaseOf(host)).toBe('waiting');
        expect(statusText(host)).toBe('Waiting for the host to start the meeting');
    });

    it('goes back to waiting when the others leave', () => {
        const state = run(
            { type: 'join' },
            { type: 'joined' },
            { type: 'participants', others: 1 },
            { type: 'participants', others: 0 },
        );
        expect(phaseOf(state)).toBe('waiting');
    });

    it('reconnects while offline or while media recovers, then resumes', () => {
        const inMeeting: ConnectionEvent[] = [{ type: 'join' }, { type: 'joined' }, { type: 'participants', others: 1 }];
        expect(phaseOf(run(...inMeeting, { type: 'offline' }))).toBe('reconnecting');
        expect(statusText(run(...inMeeting, { type: 'offline' }))).toBe('Reconnecting…');
        expect(phaseOf(run(...inMeeting, { type: 'offline' }, { type: 'online' }))).toBe('in-meeting');
        expect(phaseOf(run(...inMeeting, { type: 'media-reconnecting' }))).toBe('reconnecting');
        expect(phaseOf(run(...inMeeting, { type: 'media-reconnecting' }, { type: 'media-reconnected' }))).toBe(
            'in-meeting',
        );
    });

    it('fails with a reason and offers Retry, which starts over', () => {
        const failed = run({ type: 'join' }, refused);
        expect(phaseOf(failed)).toBe('failed');
        expect(canRetry(failed)).toBe(true);
        expect(inCall(failed)).toBe(false);
        const retried = reduceConnection(failed, { type: 'join' });
        expect(phaseOf(retried)).toBe('connecting');
        expect(retried.attempt).toBe(2);
        expect(retried.failure).toBeNull();
    });

    it('ignores late events once the attempt is over', () => {
        const failed = run({ type: 'join' }, refused, { type: 'joined' }, { type: 'participants', others: 3 });
        expect(phaseOf(failed)).toBe('failed');
        const ended = run({ type: 'join' }, { type: 'joined' }, { type: 'ended', reason: 'bye', byUser: true }, refused);
        expect(phaseOf(ended)).toBe('ended');
    });

    it('a call lost to the network while offline reconnects, waiting for the network', () => {
        const lost = { type: 'lost', failure: { kind: 'unavailable', message: 'ack failed' } } as const;
        const state = run({ type: 'join' }, { type: 'joined' }, { type: 'offline' }, lost);
        expect(phaseOf(state)).toBe('reconnecting');
        expect(statusText(state)).toBe('Reconnecting…');
        expect(canRetry(state)).toBe(false);
        expect(inCall(state)).toBe(false);
        expect(recoveryFor(state, false, 0)).toBe('wait-for-network');
        // The failure may be reported before the browser says it is offline.
        const early = run({ type: 'join' }, { type: 'joined' }, lost);
        expect(phaseOf(early)).toBe('reconnecting');
        expect(recoveryFor(early, false, 0)).toBe('wait-for-network');
        expect(recoveryFor(early, true, 0)).toBe('rejoin');
    });

    it('an automatic rejoin stays "reconnecting" until it joins, then forgets the loss', () => {
        const lost = { type: 'lost', failure: { kind: 'unavailable', message: 'ack failed' } } as const;
        const rejoining = run({ type: 'join' }, { type: 'joined' }, lost, { type: 'join', recovering: true });
        expect(phaseOf(rejoining)).toBe('reconnecting');
        const back = reduceConnection(rejoining, { type: 'joined' });
        expect(phaseOf(back)).toBe('waiting');
        expect(recoveryFor(back, true, 0)).toBe('none');
        // A manual Retry is a fresh start.
        expect(phaseOf(run({ type: 'join' }, lost, { type: 'join' }))).toBe('connecting');
    });

    it('gives up after a few rejoins while online, showing why the call was lost', () => {
        const failure = { kind: 'unavailable', message: 'The connection to the meeting was lost' } as const;
        const state = run({ type: 'join' }, { type: 'joined' }, { type: 'lost', failure });
        expect(recoveryFor(state, true, MAX_AUTOMATIC_REJOINS - 1)).toBe('rejoin');
        expect(recoveryFor(state, true, MAX_AUTOMATIC_REJOINS)).toBe('give-up');
        const failed = reduceConnection(state, { type: 'give-up' });
        expect(phaseOf(failed)).toBe('failed');
        expect(failed.failure).toEqual(failure);
        expect(canRetry(failed)).toBe(true);
    });

    it('a loss after the meeting ended changes nothing', () => {
        const lost = { type: 'lost', failure: { kind: 'unavailable', message: 'late' } } as const;
        const ended = run({ type: 'join' }, { type: 'joined' }, { type: 'ended', reason: 'bye', byUser: true }, lost);
        expect(phaseOf(ended)).toBe('ended');
        expect(recoveryFor(ended, true, 0)).toBe('none');
    });

    it('ends, by the user or by the server', () => {
        const left = run({ type: 'join' }, { type: 'joined' }, { type: 'ended', reason: 'You left', byUser: true });
        expect(phaseOf(left)).toBe('ended');
        expect(statusText(left)).toBe('Meeting ended: you left');
        expect(canRetry(left)).toBe(true);
        const kicked = run({ type: 'join' }, { type: 'joined' }, { type: 'ended', reason: 'x', byUser: false });
        expect(statusText(kicked)).toBe('Meeting ended');
    });
});

describe('explaining join failures', () => {
    it('names the node that cannot be reached', () => {
        const failure = explainJoinFailure({ thrown: new TypeError('Failed to fetch') }, 'pexip.example.com');
        expect(failure.kind).toBe('unreachable');
        expect(failure.message).toContain('pexip.example.com');
        expect(failure.message).toContain('cannot be reached');
    });

    it('says the PIN was refused, quoting the server', () => {
        const failure = explainJoinFailure({ status: 403, result: 'Invalid PIN' }, 'node');
        expect(failure.kind).toBe('pin-refused');
        expect(failure.message).toContain('refused the meeting PIN');
        expect(failure.message).toContain('Invalid PIN');
    });

    it('tells a PIN challenge from a refusal', () => {
        const failure = explainJoinFailure({ status: 403, result: { pin: 'required', guest_pin: 'none' } }, 'n');
        expect(failure.kind).toBe('pin-required');
    });

    it.each([
        [404, 'not-found'],
        [503, 'unavailable'],
        [415, 'refused'],
    ] as const)('classifies HTTP %i', (status, kind) => {
        expect(explainJoinFailure({ status, result: 'x' }, 'n').kind).toBe(kind);
    });

    it('reports an answer it cannot parse', () => {
        const failure = explainJoinFailure({ thrown: new Error('Endpoint returned text/html') }, 'n');
        expect(failure.kind).toBe('unknown');
        expect(failure.message).toContain('text/html');
    });

    it('explains why the meeting ended', () => {
        expect(explainEnd('')).toBe('You left the meeting.');
        expect(explainEnd('Conference terminated by another participant')).toBe('The meeting has ended.');
        expect(explainEnd('API initiated participant disconnect')).toContain('disconnected');
    });
});

describe('presentation and people in the main area', () => {
    it('shows a received presentation in the main area with people as the thumbnail', () => {
        const state = layout({ type: 'presentation-received' });
        expect(layoutView(state)).toEqual({ main: 'presentation', thumbnail: 'people' });
    });

    it('swaps on toggle, both ways', () => {
        const once = layout({ type: 'presentation-received' }, { type: 'toggle-main' });
        expect(layoutView(once)).toEqual({ main: 'people', thumbnail: 'presentation' });
        expect(layoutView(reduceLayout(once, { type: 'toggle-main' })).main).toBe('presentation');
    });

    it('cannot toggle without a received presentation', () => {
        expect(canToggleMain(initialLayout)).toBe(false);
        expect(layout({ type: 'toggle-main' })).toEqual(initialLayout);
        const sending = layout({ type: 'presentation-sending' }, { type: 'toggle-main' });
        expect(layoutView(sending)).toEqual({ main: 'people', thumbnail: null });
    });

    it('keeps the user choice while the same presentation goes on', () => {
        const state = layout(
            { type: 'presentation-received' },
            { type: 'toggle-main' },
            { type: 'presentation-received' },
        );
        expect(layoutView(state).main).toBe('people');
    });

    it('pops the presentation out, leaving people in the main area', () => {
        const popped = layout({ type: 'presentation-received' }, { type: 'pop-out', open: true });
        expect(popped.poppedOut).toBe(true);
        expect(layoutView(popped)).toEqual({ main: 'people', thumbnail: null });
        expect(canToggleMain(popped)).toBe(false);
        const back = reduceLayout(popped, { type: 'pop-out', open: false });
        expect(layoutView(back).main).toBe('presentation');
    });

    it('does not pop out without a presentation and resets when it stops', () => {
        expect(layout({ type: 'pop-out', open: true }).poppedOut).toBe(false);
        const stopped = layout({ type: 'presentation-received' }, { type: 'pop-out', open: true }, { type: 'presentation-stopped' });
        expect(stopped).toEqual(initialLayout);
    });
});

describe('explaining background-effect failures', () => {
    it.each([
        ['NOT_FOUND: Input tensor has type float32: it requires specifying NormalizationOptions metadata', 'segmentation model'],
        ['Failed to create WebGL2 context', 'WebGL'],
        ['importScripts failed for vision_wasm_internal.js', 'WebAssembly'],
        ['', 'in this browser'],
    ])('explains %j', (detail, words) => {
        const message = explainEffectsFailure(detail);
        expect(message).toMatch(/^Background effects could not start/);
        expect(message).toContain(words);
        expect(message).toContain('without effects');
    });
});
