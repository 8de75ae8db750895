// Reading a meeting card from its post's props. Props come from a post anyone with the API
// could have edited: every field is checked, and anything unexpected is left out.
import { safeLink } from './client';

export interface Person {
    name: string;
    /** A Mattermost user id, or '' for a guest (no avatar). */
    userId: string;
}

export interface MeetingCardView {
    live: boolean;
    topic: string;
    engine: string;
    startedBy: string;
    startedAt: number | null; // ms since the epoch
    lasted: string;
    people: readonly Person[];
    /** Ids of the card's own buttons (join, leave, end…), as in its attachment. */
    actions: readonly string[];
    /** The engine joins through meetbridge (embedded), not through a link of its own. */
    canJoinHere: boolean;
    link: string;
    /** Some may be in the engine's own app (Pexip's), which the card's Leave cannot close. */
    ownApps: boolean;
}

const text = (value: unknown, limit = 1000): string =>
    typeof value === 'string' ? value.slice(0, limit) : '';

function actionIds(props: Record<string, unknown>): string[] {
    const attachments = props.attachments;
    if (!Array.isArray(attachments)) {
        return [];
    }
    const ids: string[] = [];
    for (const attachment of attachments) {
        const actions = attachment !== null && typeof attachment === 'object'
            ? (attachment as { actions?: unknown }).actions
            : undefined;
        if (!Array.isArray(actions)) {
            continue;
        }
        for (const action of actions) {
            const id = action !== null && typeof action === 'object' ? (action as { id?: unknown }).id : undefined;
            if (typeof id === 'string' && /^[a-z0-9]{1,40}$/.test(id)) {
                ids.push(id);
            }
        }
    }
    return ids;
}

const USER_ID = /^[a-z0-9]{26}$/;

function personOf(entry: unknown): Person | null {
    if (entry === null || typeof entry !== 'object') {
        return null;
    }
    const { name, user_id: userId } = entry as { name?: unknown; user_id?: unknown };
    if (typeof name !== 'string' || !name) {
        return null;
    }
    return { name: name.slice(0, 200), userId: typeof userId === 'string' && USER_ID.test(userId) ? userId : '' };
}

/** The card a meeting post describes, or null for meetbridge's other posts (ringing). */
export function meetingCardOf(props: Record<string, unknown>): MeetingCardView | null {
    const status = props.meeting_status;
    if (status !== 'STARTED' && status !== 'ENDED') {
        return null;
    }
    const people = Array.isArray(props.meeting_participants)
        ? props.meeting_participants.map(personOf).filter((p): p is Person => p !== null).slice(0, 200)
        : [];
    const startedAt = typeof props.meeting_started_at === 'number' && Number.isFinite(props.meeting_started_at)
        ? props.meeting_started_at
        : null;
    const actions = actionIds(props);
    return {
        live: status === 'STARTED',
        topic: text(props.meeting_topic),
        engine: text(props.meeting_provider, 100),
        startedBy: text(props.meeting_started_by, 200),
        startedAt,
        lasted: text(props.meeting_duration, 100),
        people,
        actions,
        canJoinHere: actions.includes('join'),
        link: safeLink(props.meeting_link),
        ownApps: props.meeting_own_apps === true,
    };
}

/** 0:07, 12:34, 1:02:03: how long a meeting has been going. */
export function describeElapsed(milliseconds: number): string {
    const total = Math.max(0, Math.floor(milliseconds / 1000));
    const hours = Math.floor(total / 3600);
    const minutes = Math.floor((total % 3600) / 60);
    const seconds = total % 60;
    const two = (n: number) => String(n).padStart(2, '0');
    return hours > 0 ? `${hours}:${two(minutes)}:${two(seconds)}` : `${minutes}:${two(seconds)}`;
}
