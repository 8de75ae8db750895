/**
 * The Pexip side: one @pexip/infinity client for the page's lifetime. `join()` asks the node for
 * a token (display name, PIN header, call tag from the config), opens the event stream and
 * starts the WebRTC call; everything that happens next is reported through `CallEvents`.
 */

import {
    ClientCallType,
    createCallSignals,
    createInfinityClient,
    createInfinityClientSignals,
    type InfinityClient,
    type Participant,
    type PresoConnectionChangeEvent,
} from '@pexip/infinity';

import type { MeetingConfig } from './config';
import { explainEnd, explainJoinFailure, type ConnectionEvent, type Failure } from './state';

export interface ParticipantView {
    uuid: string;
    displayName: string;
    isMe: boolean;
    isHost: boolean;
    isMuted: boolean;
    isCameraMuted: boolean;
    isPresenting: boolean;
    isWaiting: boolean;
    /** When the hand was raised (Infinity's buzz), ms since the epoch; 0: not raised. */
    handRaisedTime: number;
}

export interface PresentationStatus {
    receiving: boolean;
    sending: boolean;
    /** The sending side failed (e.g. the floor was refused). */
    sendFailed: boolean;
}

export interface ConferenceMessage {
    id: string;
    text: string;
    from: string;
    /** The sender's participant uuid. */
    sender: string;
    direct: boolean;
    /** ms since the epoch. */
    at: number;
}

export interface CallEvents {
    connection(event: ConnectionEvent): void;
    participants(list: ParticipantView[]): void;
    remoteStream(stream: MediaStream): void;
    presentationStream(stream: MediaStream): void;
    presentation(status: PresentationStatus): void;
    /** The server muted or unmuted our microphone (e.g. a Host did). */
    serverMuted(muted: boolean): void;
    notice(message: string): void;
    /** A conference message (``direct``: sent to us only, e.g. a host's "ask to unmute"). */
    message(message: ConferenceMessage): void;
}

/** Bandwidth the call asks for, in kbps (the node may lower it). */
const BANDWIDTH_KBPS = 1264;

/** How long releasing a lost call's token may delay a rejoin. */
const RELEASE_TIMEOUT_MS = 3000;

const toView = (participant: Participant, me: string | undefined): ParticipantView => ({
    uuid: participant.uuid,
    displayName: participant.displayName || participant.uri || 'Unknown participant',
    isMe: participant.uuid === me,
    isHost: participant.isHost,
    isMuted: participant.isMuted,
    isCameraMuted: participant.isCameraMuted,
    isPresenting: participant.isPresenting,
    isWaiting: participant.isWaiting,
    handRaisedTime: participant.raisedHand ? participant.handRaisedTime || 1 : 0,
});

/**
 * Someone in the meeting rather than a control-only leg (meetbridge's own chair session, an
 * API client): no media, and not us. Pexip's own Mattermost plugin hides these too.
 */
const isPerson = (participant: Participant, me: string | undefined): boolean =>
    participant.uuid === me || participant.hasMedia || participant.callType !== 'api';

const serverName = (config: MeetingConfig): string => {
    try {
        return new URL(config.host).host;
    } catch {
        return config.node;
    }
};

export class MeetingCall {
    private readonly client: InfinityClient;
    private me: string | undefined;
    private joined = false;
    private leaving = false;
    private serviceType: string | undefined;
    /** The node's token for the current call (kept fresh), to release it if the call is lost. */
    private token: string | undefined;
    /** The token of a call lost while the node was out of reach: released before rejoining. */
    private lostToken: string | undefined;

    constructor(
        private readonly config: MeetingConfig,
        private readonly events: CallEvents,
    ) {
        const signals = createInfinityClientSignals(
            ['onParticipants', 'onError', 'onCallConnected', 'onPinRequired'],
            { batchScheduleTimeoutMS: 50, batchBufferSize: 50 },
        );
        const callSignals = createCallSignals(['onCallConnected']);
        this.client = createInfinityClient(signals, callSignals);

        const refreshParticipants = (): void => this.reportParticipants();
        signals.onParticipants.add(refreshParticipants);
        signals.onParticipantJoined.add(refreshParticipants);
        signals.onParticipantLeft.add(refreshParticipants);
        signals.onParticipantUpdated.add(refreshParticipants);
        signals.onMe.add(({ participant }) => {
            this.me = participant.uuid;
            this.reportParticipants();
        });
        signals.onServiceType.add(type => {
            this.serviceType = type;
            this.reportWaiting();
        });
        signals.onConferenceStatus.add(() => this.reportWaiting());
        signals.onMyselfMuted.add(muted => this.events.serverMuted(muted));
        signals.onMessage.add(message =>
            this.events.message({
                id: message.id,
                text: message.message,
                from: message.displayName,
                sender: message.userId,
                direct: message.direct,
                at: message.at instanceof Date ? message.at.getTime() : Date.now(),
            }),
        );
        signals.onDisconnected.add(({ error }) => {
            if (this.leaving) {
                return;
            }
            this.joined = false;
            if (/could not|webrtc|failed|network/i.test(error)) {
                // A network blip (e.g. the browser offline while the media call was being set up)
                // ends the SDK's call: the page rejoins rather than showing a final failure.
                this.lostToken = this.token ?? this.lostToken;
                this.events.connection({
                    type: 'lost',
                    failure: {
                        kind: 'unavailable',
                        message: `The connection to the meeting was lost (${error}). Retry to join again.`,
                    },
                });
            } else {
                this.events.connection({ type: 'ended', reason: explainEnd(error), byUser: false });
            }
        });
        signals.onTokenRefreshed.add(({ token }) => {
            this.token = token;
        });
        signals.onError.add(({ error }) => {
            // request_token failures are reported by join() from the answer itself.
            if (this.joined && /webrtc/i.test(error)) {
                this.events.notice(`The audio and video connection has a problem: ${error}.`);
            }
        });
        signals.onTransfer.add(() => {
            this.events.notice('The meeting moved you to another conference; rejoining is not supported here.');
        });

        callSignals.onRemoteStream.add(stream => this.events.remoteStream(stream));
        callSignals.onRemotePresentationStream.add(stream => this.events.presentationStream(stream));
        callSignals.onPresentationConnectionChange.add((state: PresoConnectionChangeEvent) => {
            this.events.presentation({
                receiving: state.recv === 'connected' || state.recv === 'connecting',
                sending: state.send === 'connected' || state.send === 'connecting',
                sendFailed: state.send === 'failed',
            });
        });
        callSignals.onReconnecting.add(() => this.events.connection({ type: 'media-reconnecting' }));
        callSignals.onReconnected.add(() => this.events.connection({ type: 'media-reconnected' }));
    }

    get participantId(): string | undefined {
        return this.me;
    }

    /**
     * Joins (or re-joins) the conference; never throws — failures become connection events.
     * `recovering` marks an automatic rejoin after a lost call: an unreachable node is then
     * reported as the call still being lost, not as a final failure.
     */
    async join(
        stream: MediaStream,
        options: { startMuted: boolean; cameraOff: boolean; recovering?: boolean },
    ): Promise<void> {
        this.leaving = false;
        this.joined = false;
        this.me = undefined;
        this.serviceType = undefined;
        this.token = undefined;
        this.events.connection({ type: 'join', recovering: Boolean(options.recovering) });
        await this.releaseLostToken();
        let response: Awaited<ReturnType<InfinityClient['call']>>;
        try {
            response = await this.client.call({
                conferenceAlias: this.config.alias,
                displayName: this.config.displayName,
                callTag: this.config.callTag,
                host: this.config.host,
                node: this.config.node,
                bandwidth: BANDWIDTH_KBPS,
                callType: ClientCallType.AudioVideoPresentation,
                mediaStream: stream,
                directMedia: this.config.directMedia,
                ...(this.config.pin ? { pin: this.config.pin } : {}),
            });
        } catch (thrown) {
            this.reportJoinFailure(explainJoinFailure({ thrown }, serverName(this.config)), options);
            return;
        }
        if (!response || response.status !== 200) {
            // No answer at all: the SDK swallowed a network error (it ends the call itself).
            const outcome = response
                ? { status: response.status, result: response.data.result }
                : { thrown: new TypeError('no answer') };
            this.reportJoinFailure(explainJoinFailure(outcome, serverName(this.config)), options);
            return;
        }
        this.me = response.data.result.participant_uuid;
        this.token = response.data.result.token;
        this.serviceType = response.data.result.current_service_type;
        this.joined = true;
        this.events.connection({ type: 'joined' });
        this.reportParticipants();
        this.reportWaiting();
        // The server should know we are muted, so that others see it in their rosters.
        if (options.startMuted) {
            await this.muteAudio(true);
        }
        if (options.cameraOff) {
            await this.muteVideo(true);
        }
    }

    setStream(stream: MediaStream): void {
        if (this.joined) {
            this.client.setStream(stream);
        }
    }

    async muteAudio(muted: boolean): Promise<void> {
        if (!this.joined) {
            return;
        }
        try {
            await this.client.mute({ mute: muted });
        } catch {
            this.events.notice('The meeting server did not hear about your microphone change.');
        }
    }

    async muteVideo(off: boolean): Promise<void> {
        if (!this.joined) {
            return;
        }
        try {
            await this.client.muteVideo({ muteVideo: off });
        } catch {
            this.events.notice('The meeting server did not hear about your camera change.');
        }
    }

    /** A chat line to everyone in the conference (Infinity's conference message). */
    async sendMessage(text: string): Promise<boolean> {
        if (!this.joined) {
            return false;
        }
        try {
            const answer = await this.client.sendMessage({ payload: text });
            return answer?.status === 200;
        } catch {
            return false;
        }
    }

    present(stream: MediaStream): void {
        this.client.present(stream);
    }

    stopPresenting(): void {
        this.client.stopPresenting();
    }

    async leave(): Promise<void> {
        this.leaving = true;
        const wasJoined = this.joined;
        this.joined = false;
        if (wasJoined) {
            try {
                await this.client.disconnect({ reason: 'User initiated disconnect' });
            } catch {
                // Leaving locally is what matters.
            }
        }
        this.events.connection({ type: 'ended', reason: explainEnd(''), byUser: true });
    }

    /** Leaving without waiting (the page is closing). */
    leaveOnUnload(): void {
        if (this.joined) {
            this.leaving = true;
            void this.client.disconnect({ reason: 'Browser closed' });
        }
    }

    /** During an automatic rejoin, a node still out of reach means the call is still lost. */
    private reportJoinFailure(failure: Failure, options: { recovering?: boolean }): void {
        const stillLost = Boolean(options.recovering) && failure.kind === 'unreachable';
        this.events.connection({ type: stillLost ? 'lost' : 'failed', failure });
    }

    /**
     * Releases the token of a call lost to the network, so that the node drops that participant
     * now rather than when the token expires (others would otherwise see us twice).
     */
    private async releaseLostToken(): Promise<void> {
        const token = this.lostToken;
        if (!token) {
            return;
        }
        const alias = encodeURIComponent(this.config.alias);
        try {
            await fetch(`${this.config.host}/api/client/v2/conferences/${alias}/release_token`, {
                method: 'POST',
                headers: { token },
                signal: AbortSignal.timeout(RELEASE_TIMEOUT_MS),
            });
            this.lostToken = undefined; // any answer will do: the node knows, or never knew it
        } catch {
            // Still out of reach: try again before the next rejoin (the token expires anyway).
        }
    }

    private reportParticipants(): void {
        const list = this.client
            .getParticipants('main')
            .filter(p => isPerson(p, this.me))
            .map(p => toView(p, this.me));
        this.events.participants(list);
        this.events.connection({
            type: 'participants',
            others: list.filter(p => !p.isMe).length,
        });
    }

    private reportWaiting(): void {
        const me = this.client.getMe('main');
        const waiting = this.serviceType === 'waiting_room' || Boolean(me?.isWaiting);
        this.events.connection({ type: 'waiting-for-host', waiting });
    }
}
