/**
 * The Pexip Infinity engine: MeetingCall (call.ts, @pexip/infinity) behind the common adapter.
 * Pexip mixes the meeting into one picture (no tiles) and has no meetbridge data channel, so
 * hands, reactions, chat and host actions are not offered with it.
 */

import { MeetingCall, type ParticipantView } from '../call';
import type { MeetingConfig } from '../config';
import type {
    EngineCapabilities,
    EngineEvents,
    EngineParticipant,
    JoinOptions,
    MeetingEngineAdapter,
} from '../engine';

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
    readonly capabilities: EngineCapabilities = { tiles: false, meetbridgeControls: false, screenAudio: false };
    private readonly call: MeetingCall;

    constructor(config: MeetingConfig, events: EngineEvents) {
        this.call = new MeetingCall(config, {
            connection: event => events.connection(event),
            participants: list => events.participants(list.map(toEngineParticipant)),
            remoteStream: stream => events.remoteStream(stream),
            presentationStream: stream => events.presentationStream(stream),
            presentation: status => events.presentation(status),
            serverMuted: muted => events.serverMuted(muted),
            notice: message => events.notice(message),
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
