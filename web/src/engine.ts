/**
 * One meeting UI, several engines. The page (main.ts, ui.ts) talks to an engine only through
 * `MeetingEngineAdapter`; `adapters/pexip.ts` wraps @pexip/infinity and `adapters/livekit.ts`
 * wraps livekit-client. What is not media — hands, reactions, chat, host actions — is
 * meetbridge's, not the engine's: the page asks meetbridge's control API (controls.ts) and
 * meetbridge answers everyone through the engine's data channel (`MeetingMessage`).
 *
 * The contract with meetbridge's server side (also in web/CONTRACT.md):
 *
 * Control API — `POST {controls.url}/{action}`, JSON body, `Authorization: Bearer {controls.token}`.
 *   raise-hand {}            lower-hand {identity?}   (no identity: my own hand)
 *   lower-all-hands {}       react {emoji}            chat {text}
 *   mute {identity}          mute-all {}              ask-unmute {identity}
 *   stop-screenshare {identity}   remove {identity}   make-host {identity}   end {}
 *   recording {on: boolean}   (host: start or stop recording)
 *   captions {on: boolean}    (host: live captions on or off)
 *   stats {sendKbps, receiveKbps, packetLossPercent, rttMs}   (every 10 s, and on leaving)
 * `identity` is one LiveKit participant identity (one device). For a person with several devices
 * the page sends one request per device. 2xx means accepted; anything else is refused, with
 * `{"error": "<text for the user>"}` as the body (the page shows that text).
 *
 * Server → page — LiveKit data messages, reliable, JSON in UTF-8, by topic:
 *   meetbridge.hands    {queue: [{identity, name, at}]}   the whole queue, oldest first
 *   meetbridge.reaction {identity, name, emoji}
 *   meetbridge.chat     {id, name, text, at, source: "meeting" | "mattermost"}
 *   meetbridge.notice   {kind: "ask-unmute" | "muted-by-host" | "removed" | "ended" | "host-changed"
 *                        | "recording-started" | "recording-stopped" | "recording-reminder"
 *                        | "captions-started" | "captions-stopped" | "captions-interrupted", text}
 *   meetbridge.captions {id, identity, name, text, final}   a caption line (captions.ts)
 * Room metadata (LiveKit) — JSON; `recording` (ms since the epoch) while the meeting is recorded;
 * `captions` (ms) and `captioner` (its identity) while live captions are on.
 * `at` is milliseconds since the epoch. The page trusts only messages from the server (no sender
 * participant), parses them defensively and ignores anything malformed.
 *
 * Roles — LiveKit participant attributes: `meetbridge.role` = "host" | "participant",
 * `meetbridge.user` = the Mattermost user id (several devices of one person share it).
 */

import type { Caption } from './captions';
import type { ConnectionEvent } from './state';

export type EngineName = 'pexip' | 'livekit';

export type ConnectionQuality = 'excellent' | 'good' | 'poor' | 'lost' | 'unknown';

/** One connection (device) in the meeting, as the engine reports it. */
export interface EngineParticipant {
    /** The engine's id for this connection: LiveKit identity, Pexip participant uuid. */
    id: string;
    /** The person behind it (LiveKit `meetbridge.user`); '' when the engine does not say. */
    userId: string;
    displayName: string;
    isMe: boolean;
    isHost: boolean;
    isMuted: boolean;
    isCameraMuted: boolean;
    isPresenting: boolean;
    isWaiting: boolean;
    isSpeaking: boolean;
    quality: ConnectionQuality;
}

/** A remote participant's camera, shown as one tile (engines that forward streams: LiveKit). */
export interface VideoTile {
    participantId: string;
    displayName: string;
    stream: MediaStream | null;
}

export interface PresentationStatus {
    receiving: boolean;
    sending: boolean;
    /** The sending side failed (e.g. the floor was refused). */
    sendFailed: boolean;
}

export interface HandEntry {
    identity: string;
    name: string;
    at: number;
}

export type NoticeKind =
    | 'ask-unmute'
    | 'muted-by-host'
    | 'removed'
    | 'ended'
    | 'host-changed'
    | 'recording-started'
    | 'recording-stopped'
    | 'recording-reminder'
    | 'captions-started'
    | 'captions-stopped'
    | 'captions-interrupted';

export interface ChatLine {
    id: string;
    name: string;
    text: string;
    at: number;
    source: 'meeting' | 'mattermost';
}

/** What meetbridge tells the page through the engine's data channel. */
export type MeetingMessage =
    | { topic: 'meetbridge.hands'; queue: HandEntry[] }
    | { topic: 'meetbridge.reaction'; identity: string; name: string; emoji: string }
    | { topic: 'meetbridge.chat'; line: ChatLine }
    | { topic: 'meetbridge.notice'; kind: NoticeKind; text: string };

export interface EngineEvents {
    connection(event: ConnectionEvent): void;
    participants(list: EngineParticipant[]): void;
    /** A composed picture of the meeting (Pexip's MCU layout). */
    remoteStream(stream: MediaStream): void;
    /** One tile per remote camera (LiveKit), replacing the previous set. */
    tiles(tiles: VideoTile[]): void;
    /** Remote audio to play (LiveKit: one stream per remote microphone or screen audio). */
    remoteAudio(streams: MediaStream[]): void;
    presentationStream(stream: MediaStream | null): void;
    presentation(status: PresentationStatus): void;
    /** The server muted or unmuted our microphone (e.g. a host did). */
    serverMuted(muted: boolean): void;
    /** The ids of the connections speaking now, loudest first. */
    activeSpeakers(ids: string[]): void;
    /** A message from meetbridge (hands, reactions, chat, notices). */
    message(message: MeetingMessage): void;
    notice(message: string): void;
    /** Whether the meeting is being recorded: since when (ms), or null (LiveKit room metadata). */
    recording?(since: number | null): void;
    /** Whether live captions are on: since when (ms), or null (LiveKit room metadata). */
    captions?(since: number | null): void;
    /** A caption line from meetbridge's captioner. */
    caption?(caption: Caption): void;
}

export interface JoinOptions {
    startMuted: boolean;
    cameraOff: boolean;
    /** An automatic rejoin after a lost call (the page's recovery), not the person's click. */
    recovering?: boolean;
}

/** What an engine offers beyond the basics; the UI shows only the controls that work. */
export interface EngineCapabilities {
    /** Per-participant tiles (speaker and grid layouts) instead of one composed picture. */
    tiles: boolean;
    /** meetbridge's hands, reactions, chat and host actions (needs the control API). */
    meetbridgeControls: boolean;
    /** Screen sharing may carry the tab's or system's sound. */
    screenAudio: boolean;
    /** meetbridge's reactions (with meetbridgeControls). */
    reactions: boolean;
    /** In-meeting chat (LiveKit: meetbridge's; Pexip: Infinity's conference messages). */
    chat: boolean;
}

export interface MeetingEngineAdapter {
    readonly engine: EngineName;
    readonly capabilities: EngineCapabilities;
    /** The id of our own connection once joined. */
    readonly participantId: string | undefined;
    /** Joins (or re-joins); never throws — failures become connection events. */
    join(stream: MediaStream, options: JoinOptions): Promise<void>;
    leave(): Promise<void>;
    /** Leaving without waiting (the page is closing). */
    leaveOnUnload(): void;
    /** New local tracks (device switched, effect on/off): publish them in place of the old. */
    setStream(stream: MediaStream): void;
    setMicrophoneMuted(muted: boolean): Promise<void>;
    setCameraOff(off: boolean): Promise<void>;
    /** Starts presenting `stream`, or stops with null. */
    shareScreen(stream: MediaStream | null): Promise<void>;
    /**
     * WebRTC statistics of every track sent and received now, one report per track (engines
     * that report their connection to meetbridge: LiveKit). Absent: the page does not report.
     */
    statsReports?(): Promise<RTCStatsReport[]>;
    /** Sends a chat line through the engine itself (Pexip); absent: through meetbridge. */
    sendChat?(text: string): Promise<boolean>;
}
