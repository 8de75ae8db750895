/**
 * How LiveKit's join failures and disconnections read to the user. Pure (no SDK import), so
 * that it is unit-tested without a browser. LiveKit's own enums are passed in by value/name.
 */

import type { Failure } from './state';

/** livekit-client's ConnectionErrorReason values this page tells apart. */
export const CONNECTION_ERROR = { NotAllowed: 0, ServerUnreachable: 1, Cancelled: 3, Timeout: 5 } as const;

export const explainLiveKitJoinFailure = (status: number | undefined, reason: number | undefined, server: string): Failure => {
    if (status === 401 || status === 403 || (reason === CONNECTION_ERROR.NotAllowed && status === undefined)) {
        return {
            kind: 'refused',
            message:
                'The meeting server refused this join link (it may have expired). Open the meeting again from Mattermost.',
        };
    }
    if (status === 404) {
        return { kind: 'not-found', message: 'This meeting is not running any more.' };
    }
    if (status !== undefined && status >= 500) {
        // livekit-server refuses a full room with a 500 on the WebSocket.
        return {
            kind: 'unavailable',
            message: `The meeting is full or its server is unavailable (HTTP ${status}). Try again in a moment.`,
        };
    }
    if (reason === CONNECTION_ERROR.ServerUnreachable || reason === CONNECTION_ERROR.Timeout || status === undefined) {
        return {
            kind: 'unreachable',
            message: `The video meeting server (${server}) cannot be reached. Check your network connection, then retry.`,
        };
    }
    return {
        kind: 'refused',
        message: `The video meeting server refused to let you join (HTTP ${status}).`,
    };
};

/** A disconnection the user did not ask for: over for good (`ended`), or worth retrying. */
export const explainLiveKitEnd = (reasonName: string | undefined): { ended: boolean; message: string } => {
    switch (reasonName) {
        case 'PARTICIPANT_REMOVED':
            return { ended: true, message: 'You were removed from the meeting.' };
        case 'ROOM_DELETED':
        case 'ROOM_CLOSED':
            return { ended: true, message: 'The meeting has ended.' };
        case 'DUPLICATE_IDENTITY':
            return { ended: true, message: 'You joined this meeting from another window; this one was disconnected.' };
        case 'CLIENT_INITIATED':
            return { ended: true, message: 'You left the meeting.' };
        default:
            return {
                ended: false,
                message: `The connection to the meeting was lost${reasonName ? ` (${reasonName.toLowerCase().replace(/_/g, ' ')})` : ''}. Retry to join again.`,
            };
    }
};
