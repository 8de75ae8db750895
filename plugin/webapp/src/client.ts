// Calls from the browser: the plugin's own routes (which forward to meetbridge, signed) and
// Mattermost's post-action API, both as the signed-in user, as the web app's own client does
// (session cookie, X-Requested-With, and the CSRF token from the MMCSRF cookie).
import { PLUGIN_ID } from './manifest';

export type MeetingAnswer =
    | { kind: 'join'; url: string }
    | { kind: 'elsewhere'; text: string; goto: string }
    | { kind: 'refused'; message: string };

function csrfToken(): string {
    const found = document.cookie.split(';').map(part => part.trim()).find(part => part.startsWith('MMCSRF='));
    return found ? decodeURIComponent(found.slice('MMCSRF='.length)) : '';
}

async function post(url: string, body: unknown): Promise<Response> {
    return fetch(url, {
        method: 'POST',
        credentials: 'same-origin',
        headers: {
            'Content-Type': 'application/json',
            'X-Requested-With': 'XMLHttpRequest',
            'X-CSRF-Token': csrfToken(),
        },
        body: JSON.stringify(body),
    });
}

async function json(response: Response): Promise<Record<string, unknown>> {
    try {
        const parsed: unknown = await response.json();
        return parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
    } catch {
        return {};
    }
}

/** Only http(s) links are ever opened or framed, whatever an answer holds. */
export function safeLink(candidate: unknown): string {
    if (typeof candidate !== 'string') {
        return '';
    }
    try {
        const parsed = new URL(candidate);
        return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : '';
    } catch {
        return '';
    }
}

export class MeetbridgeClient {
    constructor(private readonly siteURL: () => string) {}

    /** Start the channel's meeting, or join it if it is running (the call button). */
    async startOrJoin(channelId: string, topic = ''): Promise<MeetingAnswer> {
        let response: Response;
        try {
            response = await post(`${this.siteURL()}/plugins/${PLUGIN_ID}/api/v1/meeting`, {
                channel_id: channelId,
                ...(topic ? { topic } : {}),
            });
        } catch {
            return { kind: 'refused', message: 'meetbridge cannot be reached right now.' };
        }
        const answer = await json(response);
        if (!response.ok) {
            const error = typeof answer.error === 'string' ? answer.error : `error ${response.status}`;
            return { kind: 'refused', message: error };
        }
        const joinLink = safeLink(answer.join_link);
        if (joinLink) {
            return { kind: 'join', url: joinLink };
        }
        return {
            kind: 'elsewhere',
            text: typeof answer.text === 'string' ? answer.text : '',
            goto: safeLink(answer.goto),
        };
    }

    /** meetbridge's list of meetings in progress in the user's channels; null without one. */
    async meetingsInProgress(): Promise<unknown> {
        try {
            const response = await fetch(`${this.siteURL()}/plugins/${PLUGIN_ID}/api/v1/meetings`, {
                credentials: 'same-origin',
                headers: { 'X-Requested-With': 'XMLHttpRequest' },
            });
            return response.ok ? await json(response) : null;
        } catch {
            return null;
        }
    }

    /** Decline a call ringing for the user (meetbridge checks that it is theirs). */
    async ignoreCall(ringId: number): Promise<boolean> {
        try {
            const url = `${this.siteURL()}/plugins/${PLUGIN_ID}/api/v1/ring`;
            return (await post(url, { ring_id: ringId, answer: 'ignore' })).ok;
        } catch {
            return false;
        }
    }

    /** Press one of a card's buttons, as a click on the attachment button would. */
    async pressButton(postId: string, actionId: string): Promise<boolean> {
        try {
            const url = `${this.siteURL()}/api/v4/posts/${encodeURIComponent(postId)}/actions/${encodeURIComponent(actionId)}`;
            return (await post(url, {})).ok;
        } catch {
            return false;
        }
    }
}
