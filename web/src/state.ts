/**
 * Pure state: the connection state machine, how join failures are explained, and which of
 * presentation and people fills the main area. No DOM, no SDK: unit-tested on its own.
 */

// ---------------------------------------------------------------------------------------------
// Connection state

export type Phase = 'connecting' | 'waiting' | 'in-meeting' | 'reconnecting' | 'ended' | 'failed';

export type FailureKind =
    | 'unreachable'
    | 'pin-refused'
    | 'pin-required'
    | 'not-found'
    | 'unavailable'
    | 'refused'
    | 'unknown';

export interface Failure {
    kind: FailureKind;
    message: string;
}

export interface ConnectionState {
    /** Join attempts so far (Retry increments it). */
    attempt: number;
    /** The node accepted us (token issued, event stream open). */
    joined: boolean;
    /** Participants other than ourselves. */
    others: number;
    /** The conference has not started: we wait for a Host. */
    waitingForHost: boolean;
    /** The browser reports no network. */
    offline: boolean;
    /** The media connection is being restored. */
    mediaReconnecting: boolean;
    failure: Failure | null;
    /**
     * The call was lost to a network or media problem (the node may be fine): the page rejoins
     * by itself, and this failure is shown only if that does not work out.
     */
    lost: Failure | null;
    /** Set once the meeting is over for us; `byUser` when we left ourselves. */
    ended: { reason: string; byUser: boolean } | null;
}

export type ConnectionEvent =
    | { type: 'join'; recovering?: boolean }
    | { type: 'joined' }
    | { type: 'participants'; others: number }
    | { type: 'waiting-for-host'; waiting: boolean }
    | { type: 'offline' }
    | { type: 'online' }
    | { type: 'media-reconnecting' }
    | { type: 'media-reconnected' }
    | { type: 'failed'; failure: Failure }
    | { type: 'lost'; failure: Failure }
    | { type: 'give-up' }
    | { type: 'ended'; reason: string; byUser: boolean };

export const initialConnection: ConnectionState = {
    attempt: 0,
    joined: false,
    others: 0,
    waitingForHost: false,
    offline: false,
    mediaReconnecting: false,
    failure: null,
    lost: null,
    ended: null,
};

const isOver = (state: ConnectionState): boolean => state.failure !== null || state.ended !== null;

export const reduceConnection = (
    state: ConnectionState,
    event: ConnectionEvent,
): ConnectionState => {
    switch (event.type) {
        case 'join':
            // A new attempt forgets everything but the count, whether we are offline and, for an
            // automatic rejoin, why the call was lost.
            return {
                ...initialConnection,
                attempt: state.attempt + 1,
                offline: state.offline,
                lost: event.recovering ? state.lost : null,
            };
        case 'joined':
            return isOver(state) ? state : { ...state, joined: true, lost: null };
        case 'participants':
            return isOver(state) ? state : { ...state, others: Math.max(0, event.others) };
        case 'waiting-for-host':
            return isOver(state) ? state : { ...state, waitingForHost: event.waiting };
        case 'offline':
            return { ...state, offline: true };
        case 'online':
            return { ...state, offline: false };
        case 'media-reconnecting':
            return isOver(state) ? state : { ...state, mediaReconnecting: true };
        case 'media-reconnected':
            return { ...state, mediaReconnecting: false };
        case 'failed':
            // A failure after the meeting ended (e.g. a late network error) changes nothing.
            return state.ended ? state : { ...state, failure: event.failure };
        case 'lost':
            return isOver(state)
                ? state
                : { ...state, joined: false, mediaReconnecting: false, lost: event.failure };
        case 'give-up':
            return isOver(state) || !state.lost ? state : { ...state, failure: state.lost, lost: null };
        case 'ended':
            return isOver(state)
                ? state
                : { ...state, ended: { reason: event.reason, byUser: event.byUser } };
    }
};

export const phaseOf = (state: ConnectionState): Phase => {
    if (state.failure) {
        return 'failed';
    }
    if (state.ended) {
        return 'ended';
    }
    if (state.lost) {
        return 'reconnecting';
    }
    if (!state.joined) {
        return state.offline && state.attempt > 0 ? 'reconnecting' : 'connecting';
    }
    if (state.offline || state.mediaReconnecting) {
        return 'reconnecting';
    }
    if (state.waitingForHost || state.others === 0) {
        return 'waiting';
    }
    return 'in-meeting';
};

/** The words shown to the user for the current state. */
export const statusText = (state: ConnectionState): string => {
    switch (phaseOf(state)) {
        case 'connecting':
            return 'Connecting…';
        case 'waiting':
            return state.waitingForHost
                ? 'Waiting for the host to start the meeting'
                : 'Waiting for others to join';
        case 'in-meeting':
            return state.others === 1
                ? 'In meeting with 1 other person'
                : `In meeting with ${state.others} other people`;
        case 'reconnecting':
            return 'Reconnecting…';
        case 'ended':
            return state.ended?.byUser ? 'Meeting ended: you left' : 'Meeting ended';
        case 'failed':
            return 'Could not join the meeting';
    }
};

/** Retry (re-join) is offered once the attempt is over, whatever ended it. */
export const canRetry = (state: ConnectionState): boolean => isOver(state);

/** The in-call controls work only while we are in the conference. */
export const inCall = (state: ConnectionState): boolean => state.joined && !isOver(state);

/** How many automatic rejoins are tried, while the browser is online, before giving up. */
export const MAX_AUTOMATIC_REJOINS = 3;

export type Recovery = 'wait-for-network' | 'rejoin' | 'give-up' | 'none';

/**
 * What the page does about a lost call: nothing unless the call is lost; wait while the browser
 * is offline (however long that takes); otherwise rejoin, a few times at most.
 */
export const recoveryFor = (state: ConnectionState, online: boolean, rejoins: number): Recovery => {
    if (!state.lost || isOver(state)) {
        return 'none';
    }
    if (!online || state.offline) {
        return 'wait-for-network';
    }
    return rejoins < MAX_AUTOMATIC_REJOINS ? 'rejoin' : 'give-up';
};

// ---------------------------------------------------------------------------------------------
// Explaining join failures

export interface JoinOutcome {
    /** Something thrown by fetch / the SDK (network down, certificate, CORS...). */
    thrown?: unknown;
    /** HTTP status of request_token, when there was an answer. */
    status?: number;
    /** The answer's `result`. */
    result?: unknown;
}

const detailOf = (result: unknown): string =>
    typeof result === 'string' && result.trim() ? ` (“${result.trim()}”)` : '';

/**
 * Turns what happened to `request_token` into a plain message. `server` names the node
 * (host[:port]) so that the user can tell an admin what could not be reached.
 */
export const explainJoinFailure = (outcome: JoinOutcome, server: string): Failure => {
    if (outcome.thrown !== undefined && outcome.status === undefined) {
        const name = outcome.thrown instanceof Error ? outcome.thrown.name : '';
        if (name === 'TypeError' || name === 'NetworkError' || name === 'AbortError') {
            return {
                kind: 'unreachable',
                message:
                    `The video meeting server (${server}) cannot be reached. ` +
                    'Check your network connection, then retry.',
            };
        }
        const text = outcome.thrown instanceof Error ? outcome.thrown.message : String(outcome.thrown);
        return {
            kind: 'unknown',
            message: `The video meeting server (${server}) gave an answer this page does not understand: ${text}`,
        };
    }
    const status = outcome.status ?? 0;
    const result = outcome.result;
    if (status === 403) {
        if (typeof result === 'object' && result !== null && 'pin' in result) {
            return {
                kind: 'pin-required',
                message:
                    'The meeting asks for a PIN, and this join link did not provide the right one. ' +
                    'Ask an admin to check the meeting settings, then retry.',
            };
        }
        return {
            kind: 'pin-refused',
            message: `The video meeting server refused the meeting PIN${detailOf(result)}. Retry, or ask an admin to check the meeting settings.`,
        };
    }
    if (status === 404) {
        return {
            kind: 'not-found',
            message: `The video meeting server does not know this meeting${detailOf(result)}.`,
        };
    }
    if (status >= 500) {
        return {
            kind: 'unavailable',
            message: `The video meeting server is unavailable right now (HTTP ${status})${detailOf(result)}. Try again in a moment.`,
        };
    }
    if (status) {
        return {
            kind: 'refused',
            message: `The video meeting server refused to let you join (HTTP ${status})${detailOf(result)}.`,
        };
    }
    return { kind: 'unknown', message: 'Joining the meeting failed for an unknown reason.' };
};

/** Why the server ended our call, in words for the user. */
export const explainEnd = (reason: string | undefined): string => {
    const text = (reason ?? '').trim();
    if (!text || text === 'User initiated disconnect') {
        return 'You left the meeting.';
    }
    if (/conference (has been )?(terminated|ended|disconnected)/i.test(text)) {
        return 'The meeting has ended.';
    }
    if (/disconnect/i.test(text)) {
        return `You were disconnected from the meeting (${text}).`;
    }
    return `The meeting ended for you: ${text}.`;
};

// ---------------------------------------------------------------------------------------------
// Explaining background-effect failures

/** Why the effects worker could not start, in words for the user. */
export const explainEffectsFailure = (detail: string): string => {
    const base = 'Background effects could not start';
    if (/webgl|context|gpu/i.test(detail)) {
        return `${base}: this browser has no usable WebGL here. Your camera is shown without effects.`;
    }
    if (/tensor|model|metadata|tflite/i.test(detail)) {
        return `${base}: the background segmentation model could not be loaded. Your camera is shown without effects.`;
    }
    if (/wasm|webassembly|importScripts|fetch/i.test(detail)) {
        return `${base}: the effects' WebAssembly files could not be loaded. Your camera is shown without effects.`;
    }
    return `${base} in this browser. Your camera is shown without effects.`;
};

// ---------------------------------------------------------------------------------------------
// Which of presentation and people fills the main area

export type Presentation = 'none' | 'receiving' | 'sending';
export type MainView = 'people' | 'presentation';

export interface LayoutState {
    presentation: Presentation;
    /** What fills the main area while a presentation is received. */
    main: MainView;
    /** The presentation is shown in its own window. */
    poppedOut: boolean;
}

export const initialLayout: LayoutState = { presentation: 'none', main: 'people', poppedOut: false };

export type LayoutEvent =
    | { type: 'presentation-received' }
    | { type: 'presentation-sending' }
    | { type: 'presentation-stopped' }
    | { type: 'toggle-main' }
    | { type: 'pop-out'; open: boolean };

export const reduceLayout = (state: LayoutState, event: LayoutEvent): LayoutState => {
    switch (event.type) {
        case 'presentation-received':
            // A new presentation is shown automatically, in the main area.
            return state.presentation === 'receiving'
                ? state
                : { presentation: 'receiving', main: 'presentation', poppedOut: state.poppedOut };
        case 'presentation-sending':
            // Our own screen is not worth the main area: people stay there.
            return { presentation: 'sending', main: 'people', poppedOut: false };
        case 'presentation-stopped':
            return initialLayout;
        case 'toggle-main':
            if (state.presentation !== 'receiving' || state.poppedOut) {
                return state;
            }
            return { ...state, main: state.main === 'people' ? 'presentation' : 'people' };
        case 'pop-out':
            if (state.presentation !== 'receiving' && event.open) {
                return state;
            }
            return { ...state, poppedOut: event.open };
    }
};

export interface LayoutView {
    /** What the main area shows. */
    main: MainView;
    /** What the top-right thumbnail shows (selecting it swaps), or null when there is none. */
    thumbnail: MainView | null;
}

export const layoutView = (state: LayoutState): LayoutView => {
    if (state.presentation !== 'receiving' || state.poppedOut) {
        return { main: 'people', thumbnail: null };
    }
    return { main: state.main, thumbnail: state.main === 'people' ? 'presentation' : 'people' };
};

export const canToggleMain = (state: LayoutState): boolean => layoutView(state).thumbnail !== null;
