/**
 * Pure, engine-independent logic for what meetbridge adds to a meeting: reading its data
 * messages (hostile input: anything malformed is dropped), the raised-hands queue, the roster
 * with one entry per person, the chat log, and the client-side limit on reactions.
 */

import type {
    ChatLine,
    ConnectionQuality,
    EngineParticipant,
    HandEntry,
    MeetingMessage,
    NoticeKind,
} from './engine';

export const TOPICS = {
    hands: 'meetbridge.hands',
    reaction: 'meetbridge.reaction',
    chat: 'meetbridge.chat',
    notice: 'meetbridge.notice',
} as const;

/** The reactions the page offers (the server may accept more; the page shows any short one). */
export const REACTIONS = ['👍', '👏', '😂', '❤️', '🎉', '😮'] as const;

const MAX_NAME = 200;
const MAX_CHAT = 4000;
const MAX_EMOJI = 16; // UTF-16 units: one emoji with modifiers, not a sentence
const MAX_HANDS = 500;
const NOTICE_KINDS: readonly NoticeKind[] = [
    'ask-unmute',
    'muted-by-host',
    'removed',
    'ended',
    'host-changed',
    'recording-started',
    'recording-stopped',
    'recording-reminder',
    'captions-started',
    'captions-stopped',
    'captions-interrupted',
];

type Raw = Record<string, unknown>;

const isRecord = (value: unknown): value is Raw =>
    typeof value === 'object' && value !== null && !Array.isArray(value);

const str = (raw: Raw, key: string, max: number): string | null => {
    const value = raw[key];
    return typeof value === 'string' && value.length <= max ? value : null;
};

const time = (raw: Raw, key: string): number | null => {
    const value = raw[key];
    return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : null;
};

const handEntry = (value: unknown): HandEntry | null => {
    if (!isRecord(value)) {
        return null;
    }
    const identity = str(value, 'identity', MAX_NAME);
    const name = str(value, 'name', MAX_NAME);
    const at = time(value, 'at');
    return identity && name !== null && at !== null ? { identity, name, at } : null;
};

/** The queue in the order hands went up (ties by identity), one entry per identity. */
export const orderHands = (queue: readonly HandEntry[]): HandEntry[] => {
    const first = new Map<string, HandEntry>();
    for (const entry of queue) {
        const seen = first.get(entry.identity);
        if (!seen || entry.at < seen.at) {
            first.set(entry.identity, entry);
        }
    }
    return [...first.values()].sort((a, b) => a.at - b.at || a.identity.localeCompare(b.identity));
};

const decoder = new TextDecoder('utf-8', { fatal: true });

/** A meetbridge data message, or null for anything that is not one (never throws). */
export const parseMessage = (topic: string | undefined, payload: Uint8Array | string): MeetingMessage | null => {
    let raw: unknown;
    try {
        raw = JSON.parse(typeof payload === 'string' ? payload : decoder.decode(payload));
    } catch {
        return null;
    }
    if (!isRecord(raw)) {
        return null;
    }
    switch (topic) {
        case TOPICS.hands: {
            const queue = raw['queue'];
            if (!Array.isArray(queue) || queue.length > MAX_HANDS) {
                return null;
            }
            const entries = queue.map(handEntry);
            if (entries.some(entry => entry === null)) {
                return null;
            }
            return { topic, queue: orderHands(entries as HandEntry[]) };
        }
        case TOPICS.reaction: {
            const identity = str(raw, 'identity', MAX_NAME);
            const name = str(raw, 'name', MAX_NAME);
            const emoji = str(raw, 'emoji', MAX_EMOJI);
            return identity !== null && name !== null && emoji ? { topic, identity, name, emoji } : null;
        }
        case TOPICS.chat: {
            const id = str(raw, 'id', MAX_NAME);
            const name = str(raw, 'name', MAX_NAME);
            const text = str(raw, 'text', MAX_CHAT);
            const at = time(raw, 'at');
            const source = raw['source'];
            if (!id || name === null || !text || at === null || (source !== 'meeting' && source !== 'mattermost')) {
                return null;
            }
            return { topic, line: { id, name, text, at, source } };
        }
        case TOPICS.notice: {
            const kind = raw['kind'];
            const text = str(raw, 'text', MAX_CHAT);
            if (!NOTICE_KINDS.includes(kind as NoticeKind) || text === null) {
                return null;
            }
            return { topic, kind: kind as NoticeKind, text };
        }
        default:
            return null;
    }
};

/** Since when the meeting is recorded (ms), from the LiveKit room's metadata; null when it is
 * not, or the metadata is not meetbridge's (never throws). */
export const recordingSince = (metadata: string | undefined): number | null => {
    if (!metadata) {
        return null;
    }
    let raw: unknown;
    try {
        raw = JSON.parse(metadata);
    } catch {
        return null;
    }
    return isRecord(raw) ? time(raw, 'recording') : null;
};

// ---------------------------------------------------------------------------------------------
// Chat

export const MAX_CHAT_LINES = 300;

/** Adds a line once (by id), in time order, keeping the newest `max` lines. */
export const addChatLine = (lines: readonly ChatLine[], line: ChatLine, max = MAX_CHAT_LINES): ChatLine[] => {
    if (lines.some(existing => existing.id === line.id)) {
        return [...lines];
    }
    const next = [...lines, line].sort((a, b) => a.at - b.at);
    return next.slice(Math.max(0, next.length - max));
};

// ---------------------------------------------------------------------------------------------
// Reactions: a sliding window, so that a held key or a script cannot flood the meeting

export class ReactionLimiter {
    private sent: number[] = [];

    constructor(
        private readonly limit = 3,
        private readonly windowMs = 5000,
    ) {}

    /** Whether a reaction may be sent at `now` (ms); counts it when it may. */
    allow(now: number): boolean {
        this.sent = this.sent.filter(at => now - at < this.windowMs);
        if (this.sent.length >= this.limit) {
            return false;
        }
        this.sent.push(now);
        return true;
    }
}

// ---------------------------------------------------------------------------------------------
// Roster: one entry per person, however many devices they joined from

export interface Person {
    /** `user:<id>` for a known Mattermost user, else `conn:<id>`. */
    key: string;
    displayName: string;
    /** The connections (devices) of this person, for host actions. */
    ids: string[];
    isMe: boolean;
    isHost: boolean;
    /** Muted on every device (one live microphone is enough to be heard). */
    isMuted: boolean;
    isCameraMuted: boolean;
    isPresenting: boolean;
    isWaiting: boolean;
    isSpeaking: boolean;
    /** The worst of the devices' qualities. */
    quality: ConnectionQuality;
    /** 1-based place in the hands queue (the earliest of the person's devices), or 0. */
    hand: number;
}

const QUALITY_RANK: Record<ConnectionQuality, number> = { lost: 0, poor: 1, good: 2, excellent: 3, unknown: 4 };

const worse = (a: ConnectionQuality, b: ConnectionQuality): ConnectionQuality =>
    QUALITY_RANK[a] <= QUALITY_RANK[b] ? a : b;

export const personKey = (p: EngineParticipant): string => (p.userId ? `user:${p.userId}` : `conn:${p.id}`);

/** Groups connections by person; me first, then raised hands in queue order, then by name. */
export const groupRoster = (connections: readonly EngineParticipant[], hands: readonly HandEntry[] = []): Person[] => {
    const place = new Map(orderHands(hands).map((entry, index) => [entry.identity, index + 1]));
    const people = new Map<string, Person>();
    for (const c of connections) {
        const key = personKey(c);
        const hand = place.get(c.id) ?? 0;
        const existing = people.get(key);
        if (!existing) {
            people.set(key, {
                key,
                displayName: c.displayName,
                ids: [c.id],
                isMe: c.isMe,
                isHost: c.isHost,
                isMuted: c.isMuted,
                isCameraMuted: c.isCameraMuted,
                isPresenting: c.isPresenting,
                isWaiting: c.isWaiting,
                isSpeaking: c.isSpeaking,
                quality: c.quality,
                hand,
            });
            continue;
        }
        existing.ids.push(c.id);
        existing.isMe ||= c.isMe;
        existing.isHost ||= c.isHost;
        existing.isMuted &&= c.isMuted;
        existing.isCameraMuted &&= c.isCameraMuted;
        existing.isPresenting ||= c.isPresenting;
        existing.isWaiting &&= c.isWaiting;
        existing.isSpeaking ||= c.isSpeaking;
        existing.quality = worse(existing.quality, c.quality);
        if (hand && (!existing.hand || hand < existing.hand)) {
            existing.hand = hand;
        }
    }
    return [...people.values()].sort((a, b) => {
        if (a.isMe !== b.isMe) {
            return a.isMe ? -1 : 1;
        }
        if (Boolean(a.hand) !== Boolean(b.hand)) {
            return a.hand ? -1 : 1;
        }
        return a.hand - b.hand || a.displayName.localeCompare(b.displayName) || a.key.localeCompare(b.key);
    });
};

/** The words for a person's state in the roster (also their accessible description). */
export const personTags = (person: Person): string[] =>
    [
        person.isHost ? 'host' : '',
        person.hand ? `hand raised (${person.hand})` : '',
        person.isPresenting ? 'presenting' : '',
        person.isSpeaking ? 'speaking' : '',
        person.isMuted ? 'muted' : '',
        person.isCameraMuted ? 'camera off' : '',
        person.isWaiting ? 'waiting' : '',
        person.ids.length > 1 ? `${person.ids.length} devices` : '',
        person.quality === 'poor' || person.quality === 'lost' ? `connection ${person.quality}` : '',
    ].filter(Boolean);
