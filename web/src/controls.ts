/**
 * meetbridge's control API, as the meeting page uses it: `POST {url}/{action}` with a JSON body
 * and the page's bearer token. meetbridge decides (and enforces) who may do what; the page only
 * shows the answer — the server's own words when it refuses.
 */

export type ControlAction =
    | 'raise-hand'
    | 'lower-hand'
    | 'lower-all-hands'
    | 'react'
    | 'chat'
    | 'stats'
    | 'mute'
    | 'mute-all'
    | 'ask-unmute'
    | 'stop-screenshare'
    | 'remove'
    | 'make-host'
    | 'end'
    | 'recording'
    | 'captions';

export type ControlResult = { ok: true } | { ok: false; error: string };

export interface ControlEndpoint {
    url: string;
    token: string;
}

const MAX_ERROR = 300;

/** The user-facing reason from a refusal's body (`{"error": "..."}`), or a generic one. */
export const refusalText = (status: number, body: string): string => {
    try {
        const parsed: unknown = JSON.parse(body);
        if (typeof parsed === 'object' && parsed !== null && 'error' in parsed) {
            const error = (parsed as { error: unknown }).error;
            if (typeof error === 'string' && error.trim()) {
                return error.trim().slice(0, MAX_ERROR);
            }
        }
    } catch {
        // not JSON: fall through
    }
    return `meetbridge refused this (HTTP ${status}).`;
};

export class MeetingControls {
    constructor(
        private readonly endpoint: ControlEndpoint,
        private readonly fetchImpl: typeof fetch = (...args) => fetch(...args),
    ) {}

    /** `keepalive`: the request outlives the page (a report sent while leaving). */
    async send(
        action: ControlAction,
        body: Record<string, string | number | boolean> = {},
        keepalive = false,
    ): Promise<ControlResult> {
        let response: Response;
        try {
            response = await this.fetchImpl(`${this.endpoint.url.replace(/\/+$/, '')}/${action}`, {
                method: 'POST',
                headers: {
                    'Content-Type': 'application/json',
                    Authorization: `Bearer ${this.endpoint.token}`,
                },
                body: JSON.stringify(body),
                credentials: 'omit',
                keepalive,
            });
        } catch {
            return { ok: false, error: 'meetbridge cannot be reached; check your network connection.' };
        }
        if (response.ok) {
            return { ok: true };
        }
        return { ok: false, error: refusalText(response.status, await response.text().catch(() => '')) };
    }
}
