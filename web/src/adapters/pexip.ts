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
import { ASK_UNMUTE_TEXT, chatLine, handsQueue, sameHands } from '../pexip-state';

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
    /** The participants in the roster (meetbridge's chair session is not among them). */
    private people = new Set<string>();
    private sent = 0;
    private readonly displayName: string;
    private readonly events: EngineEvents;

    constructor(config: MeetingConfig, events: EngineEvents) {
        this.displayName = config.displayName;
        this.events = events;
        const controls = Boolean(config.controls);
        this.capabilities = { tiles: false, meetbridgeControls: controls, screenAudio: false, reactions: false, chat: true };
        this.call = new MeetingCall(config, {
            connection: event => events.connection(event),
            participants: list => {
                this.people = new Set(list.map(view => view.uuid));
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
            message: message => {
                if (message.direct && message.text === ASK_UNMUTE_TEXT) {
                    events.message({ topic: 'meetbridge.notice', kind: 'ask-unmute', text: message.text });
                } else if (message.direct) {
                    events.notice(`${message.from}: ${message.text}`.slice(0, 300));
                } else if (message.sender !== this.call.participantId) {
                    // Our own line was shown when sent (whether the node echoes it is not
                    // documented; an echo is dropped here).
                    const line = chatLine(message, this.people.has(message.sender));
                    events.message({ topic: 'meetbridge.chat', line });
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

    async sendChat(text: string): Promise<boolean> {
        const sent = await this.call.sendMessage(text);
        if (sent) {
            const at = Date.now();
            const line = { id: `sent-${at}-${++this.sent}`, name: this.displayName, text, at, source: 'meeting' as const };
            this.events.message({ topic: 'meetbridge.chat', line });
        }
        return sent;
    }

    async shareScreen(stream: MediaStream | null): Promise<void> {
        if (stream) {
            this.call.present(stream);
        } else {
            this.call.stopPresenting();
        }
    }
}
