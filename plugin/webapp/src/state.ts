// The plugin's own state (meetings in progress, calls ringing, the embedded meeting), kept out
// of the web app's Redux store so that it needs nothing from the host beyond React.
import React from 'react';

export interface LiveMeeting {
    channelId: string;
    topic: string;
    participants: number;
}

export type RingState = 'ringing' | 'missed' | 'answered' | 'ignored';

export interface IncomingCall {
    ringId: number;
    channelId: string;
    caller: string;
    conversation: string;
    state: RingState;
}

export interface EmbeddedMeeting {
    channelId: string;
    url: string;
    title: string;
}

export interface PluginState {
    live: Readonly<Record<string, LiveMeeting>>;
    calls: readonly IncomingCall[];
    embedded: EmbeddedMeeting | null;
    notice: string;
    /** meetbridge's bot: only its posts are drawn as meeting cards ('' until meetbridge says). */
    botUserId: string;
}

export const initialState: PluginState = { live: {}, calls: [], embedded: null, notice: '', botUserId: '' };

export class StateStore {
    private state: PluginState = initialState;
    private readonly listeners = new Set<() => void>();

    get(): PluginState {
        return this.state;
    }

    update(change: (state: PluginState) => PluginState): void {
        const next = change(this.state);
        if (next === this.state) {
            return;
        }
        this.state = next;
        for (const listener of [...this.listeners]) {
            listener();
        }
    }

    subscribe(listener: () => void): () => void {
        this.listeners.add(listener);
        return () => this.listeners.delete(listener);
    }
}

/** A component's view of the store: re-renders when the selected value changes. Written with
 * useState/useEffect only, which every React the web app has shipped since 8.0 provides. */
export function useSelected<T>(store: StateStore, select: (state: PluginState) => T): T {
    const [value, setValue] = React.useState(() => select(store.get()));
    React.useEffect(() => {
        const refresh = () => setValue(() => select(store.get()));
        refresh();
        return store.subscribe(refresh);
    }, [store]);
    return value;
}

// --- pure transitions (unit-tested) ---------------------------------------------------------

export function withMeetingState(state: PluginState, data: Record<string, unknown>): PluginState {
    const channelId = typeof data.channel_id === 'string' ? data.channel_id : '';
    if (!channelId) {
        return state;
    }
    const live = { ...state.live };
    if (data.status === 'STARTED') {
        live[channelId] = {
            channelId,
            topic: typeof data.topic === 'string' ? data.topic : '',
            participants: typeof data.participants === 'number' ? data.participants : 0,
        };
    } else if (data.status === 'ENDED') {
        if (!(channelId in live)) {
            return state;
        }
        delete live[channelId];
    } else {
        return state;
    }
    return { ...state, live };
}

/** The whole list of meetings in progress, as meetbridge answers it (on load, on reconnect). */
export function withMeetingsInProgress(state: PluginState, answer: unknown): PluginState {
    const meetings = answer !== null && typeof answer === 'object' ? (answer as { meetings?: unknown }).meetings : undefined;
    if (!Array.isArray(meetings)) {
        return state;
    }
    const live: Record<string, LiveMeeting> = {};
    for (const meeting of meetings) {
        const next = withMeetingState(initialState, { ...(meeting as Record<string, unknown>), status: 'STARTED' });
        Object.assign(live, next.live);
    }
    const bot = (answer as { bot_user_id?: unknown }).bot_user_id;
    const botUserId = typeof bot === 'string' && /^[a-z0-9]{26}$/.test(bot) ? bot : state.botUserId;
    // Calls ringing now: a window opened (or reconnected) while one rings shows it too.
    const calls = (answer as { calls?: unknown }).calls;
    let next: PluginState = { ...state, live, botUserId };
    for (const call of Array.isArray(calls) ? calls : []) {
        if (call !== null && typeof call === 'object') {
            next = withIncomingCall(next, call as Record<string, unknown>);
        }
    }
    return next;
}

const RING_STATES: readonly RingState[] = ['ringing', 'missed', 'answered', 'ignored'];

export function withIncomingCall(state: PluginState, data: Record<string, unknown>): PluginState {
    const ringId = data.ring_id;
    const ringState = RING_STATES.find(known => known === data.state);
    if (typeof ringId !== 'number' || ringState === undefined || typeof data.channel_id !== 'string') {
        return state;
    }
    const known = state.calls.find(call => call.ringId === ringId);
    if (known && (known.state === 'ignored' || known.state === 'answered')) {
        return state; // the user has answered: a later "missed" must not bring the panel back
    }
    const call: IncomingCall = {
        ringId,
        channelId: data.channel_id,
        caller: typeof data.caller === 'string' ? data.caller : '',
        conversation: typeof data.conversation === 'string' ? data.conversation : '',
        state: ringState,
    };
    const others = state.calls.filter(existing => existing.ringId !== ringId);
    return { ...state, calls: [...others, call] };
}

export function withCallState(state: PluginState, ringId: number, ringState: RingState): PluginState {
    return {
        ...state,
        calls: state.calls.map(call => (call.ringId === ringId ? { ...call, state: ringState } : call)),
    };
}

export function withoutCall(state: PluginState, ringId: number): PluginState {
    return { ...state, calls: state.calls.filter(call => call.ringId !== ringId) };
}
