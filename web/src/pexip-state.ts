/**
 * Pure helpers of the Pexip adapter (no SDK import, so unit tests can load them): Infinity's
 * buzz as the page's hands queue, and how a host's "ask to unmute" arrives.
 */

import type { ChatLine, HandEntry } from './engine';

/** What meetbridge sends, as a private conference message, when a host asks to unmute. */
export const ASK_UNMUTE_TEXT = 'The host asks you to unmute.';

export interface Buzz {
    uuid: string;
    displayName: string;
    /** When the hand was raised (Infinity's buzz_time); 0: not raised. */
    handRaisedTime: number;
}

/** Raised hands, earliest first. */
export const handsQueue = (people: Buzz[]): HandEntry[] =>
    people
        .filter(person => person.handRaisedTime > 0)
        .sort((a, b) => a.handRaisedTime - b.handRaisedTime)
        .map(person => ({ identity: person.uuid, name: person.displayName, at: person.handRaisedTime }));

export const sameHands = (a: HandEntry[], b: HandEntry[]): boolean =>
    a.length === b.length && a.every((entry, i) => entry.identity === b[i]?.identity);

export interface ConferenceLine {
    id: string;
    text: string;
    from: string;
    at: number;
}

/**
 * A conference message as a chat line. One from someone in the roster is theirs; one from
 * outside it is meetbridge's chair session relaying the Mattermost thread as "author: text".
 */
export const chatLine = (message: ConferenceLine, fromParticipant: boolean): ChatLine => {
    const relayed = !fromParticipant ? /^([^:\n]{1,64}): ([\s\S]+)$/.exec(message.text) : null;
    return {
        id: message.id,
        name: relayed?.[1] ?? (message.from || 'Someone'),
        text: relayed?.[2] ?? message.text,
        at: message.at,
        source: relayed ? 'mattermost' : 'meeting',
    };
};
