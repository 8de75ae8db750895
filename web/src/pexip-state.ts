/**
 * Pure helpers of the Pexip adapter (no SDK import, so unit tests can load them): Infinity's
 * buzz as the page's hands queue, and how a host's "ask to unmute" arrives.
 */

import type { HandEntry } from './engine';

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
