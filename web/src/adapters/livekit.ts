/**
 * The LiveKit engine (livekit-client): a self-hosted SFU that forwards each participant's
 * tracks. The page's own LocalMedia tracks (with background effects already applied) are
 * published as the microphone and camera; device and effect changes replace them in place.
 * Data messages without a sender participant come from meetbridge (the server API) and carry
 * hands, reactions, chat and notices; anything else on the data channel is ignored.
 */

import {
    ConnectionError,
    DisconnectReason,
    type LocalTrackPublication,
    type Participant,
    type RemoteParticipant,
    Room,
    RoomEvent,
    Track,
} from 'livekit-client';

import type { LiveKitConfig } from '../config';
import type {
    ConnectionQuality,
    EngineCapabilities,
    EngineEvents,
    EngineParticipant,
    JoinOptions,
    MeetingEngineAdapter,
    VideoTile,
} from '../engine';
import { explainLiveKitEnd, explainLiveKitJoinFailure } from '../livekit-state';
import { CAPTIONS_TOPIC, captionsSince, parseCaption } from '../captions';
import { parseMessage, personKey, recordingSince } from '../social';

export const ROLE_ATTRIBUTE = 'meetbridge.role';
export const USER_ATTRIBUTE = 'meetbridge.user';

const QUALITIES: readonly ConnectionQuality[] = ['excellent', 'good', 'poor', 'lost'];

const qualityOf = (participant: Participant): ConnectionQuality => {
    const value = String(participant.connectionQuality);
    return (QUALITIES as readonly string[]).includes(value) ? (value as ConnectionQuality) : 'unknown';
};

const publicationMuted = (participant: Participant, source: Track.Source): boolean => {
    const publication = participant.getTrackPublication(source);
    return !publication || publication.isMuted;
};

export const toEngineParticipant = (participant: Participant, isMe: boolean): EngineParticipant => ({
    id: participant.identity,
    userId: participant.attributes[USER_ATTRIBUTE] ?? '',
    displayName: participant.name || participant.identity,
    isMe,
    isHost: participant.attributes[ROLE_ATTRIBUTE] === 'host',
    isMuted: publicationMuted(participant, Track.Source.Microphone),
    isCameraMuted: publicationMuted(participant, Track.Source.Camera),
    isPresenting: !publicationMuted(participant, Track.Source.ScreenShare),
    isWaiting: false,
    isSpeaking: participant.isSpeaking,
    quality: qualityOf(participant),
});

export class LiveKitAdapter implements MeetingEngineAdapter {
    readonly engine = 'livekit' as const;
    readonly capabilities: EngineCapabilities = {
        tiles: true,
        meetbridgeControls: true,
        screenAudio: true,
        reactions: true,
        chat: true,
    };
    private room: Room | null = null;
    private leaving = false;
    private joined = false;
    private sharing: MediaStreamTrack[] = [];
    /** One MediaStream per remote track, so that the view keeps its elements playing. */
    private readonly streams = new Map<string, MediaStream>();
    private presenting = '';

    constructor(
        private readonly config: LiveKitConfig,
        private readonly events: EngineEvents,
    ) {}

    get participantId(): string | undefined {
        return this.room?.localParticipant.identity;
    }

    async join(stream: MediaStream, options: JoinOptions): Promise<void> {
        await this.disconnectQuietly();
        this.leaving = false;
        this.joined = false;
        this.events.connection({ type: 'join' });
        const room = new Room({ adaptiveStream: true, dynacast: true, stopLocalTrackOnUnpublish: false });
        this.room = room;
        this.listen(room);
        try {
            await room.connect(this.config.livekit.url, this.config.livekit.token, { autoSubscribe: true });
        } catch (error) {
            if (this.room !== room || this.leaving) {
                return;
            }
            this.room = null;
            const status = error instanceof ConnectionError ? error.status : undefined;
            const reason = error instanceof ConnectionError ? error.reason : undefined;
            this.events.connection({
                type: 'failed',
                failure: explainLiveKitJoinFailure(status, reason, new URL(this.config.livekit.url).host),
            });
            return;
        }
        this.joined = true;
        this.events.connection({ type: 'joined' });
        this.events.recording?.(recordingSince(room.metadata)); // joining late: already recorded?
        this.events.captions?.(captionsSince(room.metadata));
        await this.publish(room, stream, options);
        this.refresh();
    }

    async leave(): Promise<void> {
        this.leaving = true;
        await this.disconnectQuietly();
        this.events.connection({ type: 'ended', reason: 'You left the meeting.', byUser: true });
    }

    leaveOnUnload(): void {
        this.leaving = true;
        void this.room?.disconnect(true);
    }

    setStream(stream: MediaStream): void {
        const room = this.room;
        if (!room || !this.joined) {
            return;
        }
        void this.replace(room, Track.Source.Microphone, stream.getAudioTracks()[0]);
        void this.replace(room, Track.Source.Camera, stream.getVideoTracks()[0]);
    }

    async setMicrophoneMuted(muted: boolean): Promise<void> {
        await this.setMuted(Track.Source.Microphone, muted);
    }

    async setCameraOff(off: boolean): Promise<void> {
        await this.setMuted(Track.Source.Camera, off);
    }

    async shareScreen(stream: MediaStream | null): Promise<void> {
        const room = this.room;
        if (!room) {
            return;
        }
        const local = room.localParticipant;
        for (const track of this.sharing) {
            await local.unpublishTrack(track, false).catch(() => undefined);
        }
        this.sharing = [];
        if (!stream) {
            this.events.presentation({ receiving: Boolean(this.presenting), sending: false, sendFailed: false });
            return;
        }
        try {
            const [video] = stream.getVideoTracks();
            const [audio] = stream.getAudioTracks();
            if (video) {
                this.sharing.push(video);
                await local.publishTrack(video, { source: Track.Source.ScreenShare });
            }
            if (audio) {
                this.sharing.push(audio);
                await local.publishTrack(audio, { source: Track.Source.ScreenShareAudio });
            }
            this.events.presentation({ receiving: false, sending: true, sendFailed: false });
        } catch {
            this.events.presentation({ receiving: false, sending: false, sendFailed: true });
        }
        this.refresh();
    }

    async statsReports(): Promise<RTCStatsReport[]> {
        const room = this.room;
        if (!room || !this.joined) {
            return [];
        }
        // Each track's own sender or receiver stats (livekit-client's public API); they include
        // the transport and candidate pair the track uses.
        const tracks = [
            ...[...room.localParticipant.trackPublications.values()].map(publication => publication.track),
            ...[...room.remoteParticipants.values()].flatMap(participant =>
                [...participant.trackPublications.values()].map(publication => publication.track),
            ),
        ].filter((track): track is NonNullable<typeof track> => Boolean(track));
        const reports = await Promise.all(tracks.map(track => track.getRTCStatsReport().catch(() => undefined)));
        return reports.filter((report): report is RTCStatsReport => Boolean(report));
    }

    // -----------------------------------------------------------------------------------------

    private async publish(room: Room, stream: MediaStream, options: JoinOptions): Promise<void> {
        const local = room.localParticipant;
        const [audio] = stream.getAudioTracks();
        const [video] = stream.getVideoTracks();
        try {
            if (audio) {
                const publication = await local.publishTrack(audio, { source: Track.Source.Microphone });
                // Muted on the server too, so that everyone's roster shows it.
                if (options.startMuted) {
                    await publication.mute();
                }
            }
            if (video) {
                const publication = await local.publishTrack(video, { source: Track.Source.Camera, simulcast: true });
                if (options.cameraOff) {
                    await publication.mute();
                }
            }
        } catch (error) {
            this.events.notice(
                `Your camera or microphone could not be sent to the meeting${error instanceof Error ? `: ${error.message}` : ''}.`,
            );
        }
    }

    private publication(source: Track.Source): LocalTrackPublication | undefined {
        return this.room?.localParticipant.getTrackPublication(source);
    }

    private async replace(room: Room, source: Track.Source, track: MediaStreamTrack | undefined): Promise<void> {
        const publication = room.localParticipant.getTrackPublication(source);
        if (!track) {
            return;
        }
        try {
            if (!publication?.track) {
                await room.localParticipant.publishTrack(track, { source });
            } else if (publication.track.mediaStreamTrack !== track) {
                const muted = publication.isMuted;
                await publication.track.replaceTrack(track, true);
                // Our own LocalMedia decides whether the new track is live.
                if (muted) {
                    await publication.mute();
                }
            }
        } catch {
            this.events.notice('The meeting did not take the new camera or microphone.');
        }
    }

    private async setMuted(source: Track.Source, muted: boolean): Promise<void> {
        const publication = this.publication(source);
        if (!publication || publication.isMuted === muted) {
            return;
        }
        try {
            await (muted ? publication.mute() : publication.unmute());
        } catch {
            this.events.notice('The meeting server did not hear about your change.');
        }
        this.refresh();
    }

    private async disconnectQuietly(): Promise<void> {
        const room = this.room;
        this.room = null;
        this.joined = false;
        if (room) {
            room.removeAllListeners();
            await room.disconnect(true).catch(() => undefined);
        }
        this.streams.clear();
        this.presenting = '';
    }

    private listen(room: Room): void {
        const refresh = (): void => {
            if (this.room === room) {
                this.refresh();
            }
        };
        for (const event of [
            RoomEvent.ParticipantConnected,
            RoomEvent.ParticipantDisconnected,
            RoomEvent.TrackSubscribed,
            RoomEvent.TrackUnsubscribed,
            RoomEvent.TrackPublished,
            RoomEvent.TrackUnpublished,
            RoomEvent.TrackUnmuted,
            RoomEvent.ParticipantNameChanged,
            RoomEvent.ParticipantAttributesChanged,
            RoomEvent.ConnectionQualityChanged,
            RoomEvent.LocalTrackPublished,
        ] as const) {
            room.on(event, refresh);
        }
        room.on(RoomEvent.TrackMuted, (publication, participant) => {
            if (participant === room.localParticipant && publication.source === Track.Source.Microphone) {
                // Ours or the server's (MutePublishedTrack): the page ignores an echo of its own.
                this.events.serverMuted(true);
            }
            refresh();
        });
        room.on(RoomEvent.ActiveSpeakersChanged, speakers => {
            this.events.activeSpeakers(speakers.map(speaker => speaker.identity));
            refresh();
        });
        room.on(RoomEvent.RoomMetadataChanged, metadata => {
            this.events.recording?.(recordingSince(metadata));
            this.events.captions?.(captionsSince(metadata));
        });
        room.on(RoomEvent.DataReceived, (payload, participant, _kind, topic, _encryption, identity) => {
            // Only meetbridge speaks on these topics: its server API and its hidden captioner,
            // whose sender the SFU blanks. Anyone else's identity is stamped by the SFU, also
            // when this page does not know the participant yet.
            if (participant || identity) {
                return;
            }
            if (topic === CAPTIONS_TOPIC) {
                const caption = parseCaption(payload);
                if (caption) {
                    this.events.caption?.(caption);
                }
                return;
            }
            const message = parseMessage(topic, payload);
            if (message) {
                this.events.message(message);
            }
        });
        room.on(RoomEvent.Reconnecting, () => this.events.connection({ type: 'media-reconnecting' }));
        room.on(RoomEvent.SignalReconnecting, () => this.events.connection({ type: 'media-reconnecting' }));
        room.on(RoomEvent.Reconnected, () => {
            this.events.connection({ type: 'media-reconnected' });
            refresh();
        });
        room.on(RoomEvent.Disconnected, reason => {
            // Before joining, connect() itself fails and says why (with the HTTP status).
            if (this.room !== room || this.leaving || !this.joined) {
                return;
            }
            this.room = null;
            this.joined = false;
            this.events.tiles([]);
            this.events.remoteAudio([]);
            const end = explainLiveKitEnd(reason === undefined ? undefined : DisconnectReason[reason]);
            this.events.connection(
                end.ended
                    ? { type: 'ended', reason: end.message, byUser: false }
                    : { type: 'failed', failure: { kind: 'unavailable', message: end.message } },
            );
        });
    }

    /** Remote streams in use by the last refresh; the others are forgotten. */
    private used = new Set<string>();

    private streamFor(track: Track): MediaStream {
        const key = track.sid ?? track.mediaStreamTrack.id;
        this.used.add(key);
        let stream = this.streams.get(key);
        if (!stream || stream.getTracks()[0] !== track.mediaStreamTrack) {
            stream = new MediaStream([track.mediaStreamTrack]);
            this.streams.set(key, stream);
        }
        return stream;
    }

    private refresh(): void {
        const room = this.room;
        if (!room) {
            return;
        }
        const remotes = [...room.remoteParticipants.values()];
        const me = toEngineParticipant(room.localParticipant, true);
        const list = [me, ...remotes.map(p => toEngineParticipant(p, false))];
        this.events.participants(list);
        const mine = personKey(me);
        const others = new Set(list.filter(p => !p.isMe && personKey(p) !== mine).map(personKey));
        this.events.connection({ type: 'participants', others: others.size });
        this.used = new Set();
        this.events.tiles(remotes.map(p => this.tileOf(p)));
        this.events.remoteAudio(this.audioStreams(remotes));
        this.updatePresentation(remotes);
        for (const key of [...this.streams.keys()]) {
            if (!this.used.has(key)) {
                this.streams.delete(key);
            }
        }
    }

    private tileOf(participant: RemoteParticipant): VideoTile {
        const track = participant.getTrackPublication(Track.Source.Camera)?.videoTrack;
        const live = track && !track.isMuted;
        return {
            participantId: participant.identity,
            displayName: participant.name || participant.identity,
            stream: live ? this.streamFor(track) : null,
        };
    }

    private audioStreams(remotes: RemoteParticipant[]): MediaStream[] {
        const streams: MediaStream[] = [];
        for (const participant of remotes) {
            for (const source of [Track.Source.Microphone, Track.Source.ScreenShareAudio]) {
                const track = participant.getTrackPublication(source)?.audioTrack;
                if (track) {
                    streams.push(this.streamFor(track));
                }
            }
        }
        return streams;
    }

    private updatePresentation(remotes: RemoteParticipant[]): void {
        const presenter = remotes.find(p => p.getTrackPublication(Track.Source.ScreenShare)?.videoTrack);
        const track = presenter?.getTrackPublication(Track.Source.ScreenShare)?.videoTrack;
        const key = track ? (track.sid ?? '') : '';
        if (key === this.presenting) {
            if (track) {
                this.streamFor(track); // still in use
            }
            return;
        }
        this.presenting = key;
        this.events.presentationStream(track ? this.streamFor(track) : null);
        this.events.presentation({ receiving: Boolean(track), sending: this.sharing.length > 0, sendFailed: false });
    }
}
