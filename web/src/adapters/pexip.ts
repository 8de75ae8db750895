/**
 * The Pexip Infinity engine: MeetingCall (call.ts, @pexip/infinity) behind the common adapter.
 * Pexip mixes the meeting into one picture (no tiles). With meetbridge's control API in the
 * config, the page offers hands and host actions: meetbridge carries them out through Infinity's
 * client API, and their effects come back as Infinity's own events, which this adapter turns
 * into the page's messages: raised hands (Infinity's buzz) into the hands queue, a host's private
 * "ask to unmute" message into that notice. Chat and reactions stay Infinity's own (not offered).
 */

import { MeetingCall, type ParticipantView } from '../call';
import type { MeetingConfig } from '../config';
import type {
    EngineCapabilities,
    EngineEvents,
    EngineParticipant,
    HandEntry,
    JoinOptions,
    MeetingEngineAdapter,
} from '../engine';
import { ASK_UNMUTE_TEXT, handsQueue, sameHands } from '../pexip-state';

export const toEngineParticipant = (view: ParticipantView): EngineParticipant => ({
    id: view.uuid,
    userId: '',
    displayName: view.displayName,
    isMe: view.isMe,
    isHost: view.isHost,
    isMuted: view.isMuted,
    isCameraMuted: view.isCameraMuted,
    isPresenting: view.isPresenting,
    isWaiting: view.isWaiting,
    isSpeaking: false,
    quality: 'unknown',
});

export class PexipAdapter implements MeetingEngineAdapter {
    readonly engine = 'pexip' as const;
    readonly capabilities: EngineCapabilities;
    private readonly call: MeetingCall;
    private hands: HandEntry[] = [];

    constructor(config: MeetingConfig, events: EngineEvents) {
        const controls = Boolean(config.controls);
        this.capabilities = { tiles: false, meetbridgeControls: controls, screenAudio: false, social: false };
        this.call = new MeetingCall(config, {
            connection: event => events.connection(event),
            participants: list => {
                events.participants(list.map(toEngineParticipant));
                const hands = handsQueue(list);
                if (controls && !sameHands(hands, this.hands)) {
                    this.hands = hands;
                    events.message({ topic: 'meetbridge.hands', queue: hands });
                }
            },
            remoteStream: stream => events.remoteStream(stream),
            presentationStream: stream => events.presentationStream(stream),
            presentation: status => events.presentation(status),
            serverMuted: muted => events.serverMuted(muted),
            notice: message => events.notice(message),
            message: (text, from, direct) => {
                if (direct && text === ASK_UNMUTE_TEXT) {
                    events.message({ topic: 'meetbridge.notice', kind: 'ask-unmute', text });
                } else if (direct) {
                    events.notice(`${from}: ${text}`.slice(0, 300));
                }
            },
        });
    }

    get participantId(): string | undefined {
        return this.call.participantId;
    }

    join(stream: MediaStream, options: JoinOptions): Promise<void> {
        return this.call.join(stream, options);
    }

    leave(): Promise<void> {
        return this.call.leave();
    }

    leaveOnUnload(): void {
        this.call.leaveOnUnload();
    }

    setStream(stream: MediaStream): void {
        this.call.setStream(stream);
    }

    setMicrophoneMuted(muted: boolean): Promise<void> {
        return this.call.muteAudio(muted);
    }

    setCameraOff(off: boolean): Promise<void> {
        return this.call.muteVideo(off);
    }

    async shareScreen(stream: MediaStream | null): Promise<void> {
        if (stream) {
            this.call.present(stream);
        } else {
            this.call.stopPresenting();
        }
    }
}
