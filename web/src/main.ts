/**
 * The meeting page: reads the config the server rendered, opens camera and microphone, joins
 * the meeting through the engine's adapter (Pexip or LiveKit) and keeps the view in step with
 * the connection and layout states. Hands, reactions, chat and host actions go through
 * meetbridge's control API when the engine has them (see engine.ts for the contract).
 */

import './meeting.css';

import {
    addCaption,
    type Caption,
    captionsHidden,
    currentCaptions,
    LINGER_MS,
    saveCaptionsHidden,
    type ShownCaption,
} from './captions';
import { CaptionsView } from './captions-view';
import { ConfigError, readPageConfig, type PageConfig } from './config';
import { StatsReporter, type StatsObject, type StatsSummary } from './connection-stats';
import { MeetingControls, type ControlAction } from './controls';
import type { ChatLine, EngineEvents, EngineParticipant, HandEntry, MeetingEngineAdapter, MeetingMessage } from './engine';
import { explainLiveKitEnd } from './livekit-state';
import {
    captureScreen,
    EffectsUnavailableError,
    explainMediaError,
    LocalMedia,
    supportsScreenSharing,
    supportsSpeakerSelection,
    useSpeaker,
    type Effect,
} from './media';
import {
    canToggleMain,
    inCall,
    initialConnection,
    initialLayout,
    reduceConnection,
    recoveryFor,
    reduceLayout,
    type ConnectionEvent,
    type ConnectionState,
    type LayoutEvent,
    type LayoutState,
} from './state';
import { addChatLine, groupRoster, ReactionLimiter, type Person } from './social';
import { MeetingView, openPresentationWindow } from './ui';

/** Pause before an automatic rejoin while online, doubled for each further one. */
const REJOIN_DELAY_MS = 1000;

const REMOVED = explainLiveKitEnd('PARTICIPANT_REMOVED').message;

type AdapterFactory = (events: EngineEvents) => MeetingEngineAdapter;

class MeetingPage {
    private connection: ConnectionState = initialConnection;
    private layout: LayoutState = initialLayout;
    private participants: EngineParticipant[] = [];
    private people: Person[] = [];
    private hands: HandEntry[] = [];
    private recording = false;
    /** Whether the room has said yet (after joining) if it is recorded. */
    private recordingKnown = false;
    private chat: ChatLine[] = [];
    private captionsOn = false;
    private captionsHidden = captionsHidden(storage());
    private captionLines: ShownCaption[] = [];
    private captionTimer: number | undefined;
    private readonly captionsView: CaptionsView;
    private speakerId = '';
    private readonly reactions = new ReactionLimiter();
    private readonly controls: MeetingControls | null;
    private micMuted: boolean;
    private cameraOff = false;
    private screen: MediaStream | null = null;
    private presentationStream: MediaStream | null = null;
    private closePopOut: (() => void) | null = null;
    /** Automatic rejoins since the call was lost (reset once joined). */
    private rejoins = 0;
    private rejoinTimer: number | undefined;
    /** A join is under way: recovery waits for its outcome rather than starting a second one. */
    private joining = false;
    private readonly media = new LocalMedia();
    private readonly view: MeetingView;
    private readonly call: MeetingEngineAdapter;
    /** Reports our connection to meetbridge (for /meet stats) while joined, where it can. */
    private readonly stats: StatsReporter | null;

    constructor(
        private readonly config: PageConfig,
        createAdapter: AdapterFactory,
    ) {
        this.micMuted = config.startMuted;
        this.controls = config.controls ? new MeetingControls(config.controls) : null;
        this.view = new MeetingView(document, {
            toggleMicrophone: () => void this.toggleMicrophone(),
            toggleCamera: () => void this.toggleCamera(),
            toggleShare: () => void this.toggleShare(),
            togglePopOut: () => this.togglePopOut(),
            toggleMain: () => this.updateLayout({ type: 'toggle-main' }),
            leave: () => void this.leave(),
            retry: () => void this.join(),
            chooseMicrophone: id => void this.chooseMicrophone(id),
            chooseCamera: id => void this.chooseCamera(id),
            chooseSpeaker: id => void this.chooseSpeaker(id),
            chooseEffect: effect => void this.chooseEffect(effect),
            toggleHand: () => void this.toggleHand(),
            react: emoji => void this.react(emoji),
            sendChat: text => void this.sendChat(text),
            hostAction: (action, ids) => void this.hostAction(action, ids),
            meetingAction: action => void this.control(action),
            toggleRecording: () => void this.control('recording', { on: !this.recording }),
        });
        this.call = createAdapter({
            connection: event => this.updateConnection(event),
            participants: list => {
                this.participants = list;
                this.view.describeTiles(list);
                this.renderPeople();
                this.renderLayout();
            },
            remoteStream: stream => this.view.showRemote(stream),
            tiles: tiles => this.view.renderTiles(tiles),
            remoteAudio: streams => {
                this.view.playAudio(streams);
                if (this.speakerId) {
                    void useSpeaker(this.view.mediaElements(), this.speakerId).catch(() => undefined);
                }
            },
            activeSpeakers: ids => this.view.setActiveSpeakers(ids),
            message: message => this.onMessage(message),
            presentationStream: stream => {
                this.presentationStream = stream;
                this.view.showPresentation(stream);
            },
            presentation: status => {
                if (status.sendFailed && this.screen) {
                    this.view.notice('The meeting did not let you present.');
                    this.stopSharing();
                }
                if (status.receiving) {
                    this.updateLayout({ type: 'presentation-received' });
                } else if (status.sending) {
                    this.updateLayout({ type: 'presentation-sending' });
                } else if (this.layout.presentation !== 'none') {
                    this.updateLayout({ type: 'presentation-stopped' });
                }
            },
            serverMuted: muted => {
                if (muted === this.micMuted) {
                    return; // the server confirms what we asked for
                }
                this.micMuted = muted;
                this.media.setMicMuted(muted);
                this.renderMedia();
                this.view.notice(muted ? 'You were muted by the host.' : 'The host unmuted you.');
            },
            notice: message => this.view.notice(message),
            recording: since => this.showRecording(since !== null),
            captions: since => this.showCaptionsOn(since !== null),
            caption: caption => this.showCaption(caption),
        });
        this.stats = this.statsReporter();
        this.captionsView = new CaptionsView(document, {
            toggleCaptions: () => void this.control('captions', { on: !this.captionsOn }),
            toggleHidden: () => {
                this.captionsHidden = !this.captionsHidden;
                saveCaptionsHidden(storage(), this.captionsHidden);
                this.captionsView.setState(this.captionsOn, this.captionsHidden);
            },
        });
        this.captionsView.setState(false, this.captionsHidden);
        this.captionsView.offerToHost(config.engine === 'livekit'); // meetbridge captions LiveKit only
        this.media.onEffectFailed = message => {
            this.view.setEffect('none');
            this.view.setEffectsMessage(message);
            this.view.showSelf(this.media.stream);
            this.call.setStream(this.media.stream);
        };
        this.view.setShareSupported(supportsScreenSharing());
        if (this.call.capabilities.meetbridgeControls) {
            const { tiles, reactions, chat } = this.call.capabilities;
            this.view.enableMeetbridgeControls(tiles, reactions, chat);
            this.view.setHost(config.role === 'host');
            this.view.setHandRaised(false);
        }
        this.renderMedia();
        this.view.renderConnection(this.connection);
        this.renderLayout();

        window.addEventListener('offline', () => this.updateConnection({ type: 'offline' }));
        window.addEventListener('online', () => {
            this.updateConnection({ type: 'online' });
            this.recover(true);
        });
        window.addEventListener('pagehide', () => {
            // Best effort: the stats are read asynchronously while the page goes away.
            void this.stats?.finish();
            this.call.leaveOnUnload();
        });
    }

    private statsReporter(): StatsReporter | null {
        const controls = this.controls;
        const call = this.call;
        if (!controls || !call.statsReports) {
            return null;
        }
        const collect = async (): Promise<StatsObject[][]> =>
            (await (call.statsReports?.() ?? Promise.resolve([]))).map(report => [...report.values()] as StatsObject[]);
        const send = async (summary: StatsSummary, final: boolean): Promise<void> => {
            await controls.send('stats', { ...summary }, final); // a refusal is not the user's concern
        };
        return new StatsReporter(collect, send);
    }

    async start(): Promise<void> {
        const warnings = await this.media.start();
        for (const warning of warnings) {
            this.view.notice(warning);
        }
        this.media.setMicMuted(this.micMuted);
        this.media.setCameraOff(this.cameraOff);
        this.view.showSelf(this.media.stream);
        this.renderMedia();
        await this.refreshDevices();
        navigator.mediaDevices?.addEventListener?.('devicechange', () => void this.refreshDevices());
        await this.join();
    }

    private async join(recovering = false): Promise<void> {
        window.clearTimeout(this.rejoinTimer);
        this.rejoinTimer = undefined;
        if (!recovering) {
            this.rejoins = 0;
        }
        this.closePopOut?.();
        this.closePopOut = null;
        this.stopSharing();
        this.layout = initialLayout;
        this.renderLayout();
        this.joining = true;
        try {
            await this.call.join(this.media.stream, {
                startMuted: this.micMuted,
                cameraOff: this.cameraOff,
                recovering,
            });
        } finally {
            this.joining = false;
        }
        this.view.focusRetry();
        this.recover(); // a rejoin that found the node still out of reach tries again, or waits
    }

    /**
     * Brings a lost call back: waits for the network while the browser is offline (the 'online'
     * event calls this again), otherwise rejoins a few times, then shows why the call was lost.
     * When the network has just come back, the rejoin starts at once.
     */
    private recover(networkBack = false): void {
        if (this.joining) {
            return;
        }
        if (this.rejoinTimer !== undefined) {
            if (!networkBack) {
                return;
            }
            window.clearTimeout(this.rejoinTimer);
            this.rejoinTimer = undefined;
        }
        switch (recoveryFor(this.connection, navigator.onLine, this.rejoins)) {
            case 'rejoin': {
                const delay = networkBack ? 0 : REJOIN_DELAY_MS * 2 ** this.rejoins;
                this.rejoins += 1;
                this.rejoinTimer = window.setTimeout(() => {
                    this.rejoinTimer = undefined;
                    // Offline again in the meantime: wait for 'online' instead.
                    if (recoveryFor(this.connection, navigator.onLine, 0) === 'rejoin') {
                        void this.join(true);
                    }
                }, delay);
                return;
            }
            case 'give-up':
                this.updateConnection({ type: 'give-up' });
                this.view.focusRetry();
                return;
            case 'wait-for-network':
            case 'none':
                return;
        }
    }

    private async leave(): Promise<void> {
        window.clearTimeout(this.rejoinTimer);
        this.rejoinTimer = undefined;
        this.stopSharing();
        this.closePopOut?.();
        this.closePopOut = null;
        await this.stats?.finish();
        await this.call.leave();
        this.updateLayout({ type: 'presentation-stopped' });
        this.view.focusRetry();
    }

    private updateConnection(event: ConnectionEvent): void {
        this.connection = reduceConnection(this.connection, event);
        this.view.renderConnection(this.connection);
        if (event.type === 'join') {
            this.view.setRetryAllowed(true);
        }
        if (event.type === 'ended' && event.reason === REMOVED) {
            // The link still works until it expires; meetbridge decides whether they come back.
            this.view.setRetryAllowed(false);
        }
        if (!inCall(this.connection) && event.type !== 'join' && this.layout.presentation !== 'none') {
            this.updateLayout({ type: 'presentation-stopped' });
        }
        if (event.type === 'joined') {
            this.rejoins = 0;
            this.stats?.start();
        } else if (event.type === 'ended' || event.type === 'failed' || event.type === 'lost') {
            this.stats?.stop();
        }
        if (event.type === 'lost') {
            this.recover();
        }
    }

    private updateLayout(event: LayoutEvent): void {
        const before = this.layout;
        this.layout = reduceLayout(this.layout, event);
        if (before.poppedOut && !this.layout.poppedOut) {
            this.closePopOut?.();
            this.closePopOut = null;
        }
        if (event.type === 'toggle-main' && !canToggleMain(before)) {
            return;
        }
        this.renderLayout();
    }

    private renderLayout(): void {
        const presenter = this.participants.find(p => p.isPresenting && !p.isMe)?.displayName ?? '';
        this.view.renderLayout(this.layout, presenter);
    }

    private renderMedia(): void {
        this.view.setMicrophoneMuted(this.micMuted, this.media.hasMicrophone);
        this.view.setCameraOff(this.cameraOff, this.media.hasCamera);
        this.view.setEffect(this.media.effect);
    }

    private async toggleMicrophone(): Promise<void> {
        this.micMuted = !this.micMuted;
        this.media.setMicMuted(this.micMuted);
        this.renderMedia();
        await this.call.setMicrophoneMuted(this.micMuted);
    }

    private async toggleCamera(): Promise<void> {
        this.cameraOff = !this.cameraOff;
        this.media.setCameraOff(this.cameraOff);
        this.renderMedia();
        await this.call.setCameraOff(this.cameraOff);
    }

    private async toggleShare(): Promise<void> {
        if (this.screen) {
            this.stopSharing();
            return;
        }
        if (!inCall(this.connection)) {
            return;
        }
        try {
            this.screen = await captureScreen(this.call.capabilities.screenAudio);
        } catch (error) {
            if (!(error instanceof Error && error.name === 'NotAllowedError')) {
                this.view.notice(explainMediaError(error, 'screen capture'));
            }
            return;
        }
        const [track] = this.screen.getVideoTracks();
        track?.addEventListener('ended', () => this.stopSharing());
        await this.call.shareScreen(this.screen);
        this.updateLayout({ type: 'presentation-sending' });
    }

    private stopSharing(): void {
        if (!this.screen) {
            return;
        }
        for (const track of this.screen.getTracks()) {
            track.stop();
        }
        this.screen = null;
        if (inCall(this.connection)) {
            void this.call.shareScreen(null);
        }
        if (this.layout.presentation === 'sending') {
            this.updateLayout({ type: 'presentation-stopped' });
        }
    }

    // -----------------------------------------------------------------------------------------
    // Hands, reactions, chat, host actions: asked of meetbridge, answered through the engine

    private get myIds(): Set<string> {
        const mine = this.people.find(person => person.isMe);
        return new Set(mine?.ids ?? (this.call.participantId ? [this.call.participantId] : []));
    }

    private renderPeople(): void {
        const before = new Map(this.people.map(person => [person.key, person.displayName]));
        this.people = groupRoster(this.participants, this.hands);
        const me = this.people.find(person => person.isMe);
        const isHost = Boolean(me?.isHost);
        this.view.renderParticipants(this.people, isHost && this.controls !== null);
        if (this.controls) {
            this.view.setHost(isHost);
            const own = this.call.participantId;
            this.view.setHandRaised(Boolean(own && this.hands.some(entry => entry.identity === own)));
            this.view.renderHands(this.hands, this.myIds);
        }
        if (before.size) {
            const after = new Set(this.people.map(person => person.key));
            for (const person of this.people) {
                if (!before.has(person.key) && !person.isMe) {
                    this.view.announce(`${person.displayName} joined`);
                }
            }
            for (const [key, name] of before) {
                if (!after.has(key)) {
                    this.view.announce(`${name} left`);
                }
            }
        }
    }

    private onMessage(message: MeetingMessage): void {
        switch (message.topic) {
            case 'meetbridge.hands': {
                const raised = new Set(this.hands.map(entry => entry.identity));
                this.hands = message.queue;
                for (const entry of message.queue) {
                    if (!raised.has(entry.identity)) {
                        this.view.announce(`${entry.name} raised their hand`);
                    }
                }
                this.renderPeople();
                return;
            }
            case 'meetbridge.reaction':
                this.view.showReaction(message.name, message.emoji);
                return;
            case 'meetbridge.chat':
                this.chat = addChatLine(this.chat, message.line);
                this.view.renderChat(this.chat);
                return;
            case 'meetbridge.notice':
                this.view.notice(message.text);
                this.view.announce(message.text);
                if (message.kind === 'removed' || message.kind === 'ended') {
                    this.view.setRetryAllowed(message.kind !== 'removed');
                }
                return;
        }
    }

    /** The room says whether it is recorded. Joining a recorded meeting is announced once; the
     * changes afterwards come with meetbridge's own notice (announced as every notice is). */
    private showRecording(recording: boolean): void {
        if (this.recordingKnown === false && recording) {
            this.view.announce('This meeting is being recorded.');
        }
        this.recordingKnown = true;
        this.recording = recording;
        this.view.setRecording(recording);
    }

    /** The room says whether captions are on (changes come with meetbridge's notice too). */
    private showCaptionsOn(on: boolean): void {
        this.captionsOn = on;
        if (!on) {
            this.captionLines = [];
        }
        this.captionsView.setState(on, this.captionsHidden);
    }

    private showCaption(caption: Caption): void {
        if (!this.captionsOn) {
            return; // a line sent as captions were being turned off
        }
        this.captionLines = addCaption(this.captionLines, caption, Date.now());
        this.renderCaptions();
    }

    /** The lines still current; while some are shown, looked at again until they expire. */
    private renderCaptions(): void {
        this.captionLines = currentCaptions(this.captionLines, Date.now());
        this.captionsView.render(this.captionLines);
        window.clearTimeout(this.captionTimer);
        this.captionTimer = this.captionLines.length
            ? window.setTimeout(() => this.renderCaptions(), LINGER_MS / 4)
            : undefined;
    }

    private async control(
        action: ControlAction,
        body: Record<string, string | number | boolean> = {},
    ): Promise<boolean> {
        if (!this.controls) {
            return false;
        }
        const result = await this.controls.send(action, body);
        if (!result.ok) {
            this.view.notice(result.error);
        }
        return result.ok;
    }

    private async sendChat(text: string): Promise<void> {
        if (!this.call.sendChat) {
            await this.control('chat', { text });
        } else if (!(await this.call.sendChat(text))) {
            this.view.notice('The message could not be sent.');
        }
    }

    private async toggleHand(): Promise<void> {
        const own = this.call.participantId;
        const raised = Boolean(own && this.hands.some(entry => entry.identity === own));
        await this.control(raised ? 'lower-hand' : 'raise-hand');
    }

    private async react(emoji: string): Promise<void> {
        if (!this.reactions.allow(Date.now())) {
            this.view.notice('Too many reactions at once; wait a moment.');
            return;
        }
        await this.control('react', { emoji });
    }

    private async hostAction(action: ControlAction, ids: string[]): Promise<void> {
        // One request per device; the first refusal is shown and stops the rest.
        const targets =
            action === 'lower-hand' ? ids.filter(id => this.hands.some(entry => entry.identity === id)) : ids;
        for (const identity of targets) {
            if (!(await this.control(action, { identity }))) {
                return;
            }
        }
    }

    private togglePopOut(): void {
        if (this.layout.poppedOut) {
            this.updateLayout({ type: 'pop-out', open: false });
            return;
        }
        if (this.layout.presentation !== 'receiving') {
            return;
        }
        const close = openPresentationWindow(this.presentationStream, this.config.channelTitle, () => {
            this.closePopOut = null;
            this.updateLayout({ type: 'pop-out', open: false });
        });
        if (!close) {
            this.view.notice('The browser blocked the presentation window; allow pop-ups for this page.');
            return;
        }
        this.closePopOut = close;
        this.updateLayout({ type: 'pop-out', open: true });
    }

    private async refreshDevices(): Promise<void> {
        try {
            const devices = await this.media.devices();
            this.view.setDevices(
                devices,
                { microphone: this.media.microphoneId, camera: this.media.cameraId },
                supportsSpeakerSelection(),
            );
        } catch {
            this.view.notice('The list of cameras and microphones is not available.');
        }
    }

    private async chooseMicrophone(deviceId: string): Promise<void> {
        try {
            this.call.setStream(await this.media.useMicrophone(deviceId));
        } catch (error) {
            this.view.notice(explainMediaError(error, 'microphone'));
        }
        await this.refreshDevices();
    }

    private async chooseCamera(deviceId: string): Promise<void> {
        try {
            const stream = await this.media.useCamera(deviceId);
            this.view.showSelf(stream);
            this.call.setStream(stream);
        } catch (error) {
            this.view.notice(explainMediaError(error, 'camera'));
        }
        this.renderMedia();
        await this.refreshDevices();
    }

    private async chooseSpeaker(deviceId: string): Promise<void> {
        this.speakerId = deviceId;
        try {
            await useSpeaker(this.view.mediaElements(), deviceId);
        } catch (error) {
            this.view.notice(error instanceof Error ? error.message : 'The speaker could not be changed.');
        }
    }

    private async chooseEffect(effect: Effect): Promise<void> {
        this.view.setEffectsBusy(true);
        this.view.setEffectsMessage(effect === 'none' ? '' : 'Starting the background effect…');
        try {
            const stream = await this.media.setEffect(effect);
            this.view.showSelf(stream);
            this.call.setStream(stream);
            this.view.setEffectsMessage(
                effect === 'blur'
                    ? 'Background blur is on.'
                    : effect === 'replace'
                      ? 'Background replacement is on.'
                      : '',
            );
        } catch (error) {
            this.view.setEffectsMessage(
                error instanceof EffectsUnavailableError
                    ? error.message
                    : `The background effect could not start: ${error instanceof Error ? error.message : String(error)}`,
            );
            this.view.showSelf(this.media.stream);
            this.call.setStream(this.media.stream);
        } finally {
            this.view.setEffectsBusy(false);
            this.renderMedia();
        }
    }
}

const fail = (message: string): void => {
    const status = document.getElementById('mb-status');
    const problem = document.getElementById('mb-problem');
    const text = document.getElementById('mb-problem-text');
    if (status) {
        status.textContent = 'Could not start the meeting page';
        status.dataset['state'] = 'failed';
    }
    if (problem && text) {
        text.textContent = message;
        problem.hidden = false;
        document.getElementById('mb-retry')?.addEventListener('click', () => window.location.reload());
    }
};

const adapterFor = async (config: PageConfig): Promise<AdapterFactory> => {
    // Each engine's SDK is its own chunk: a Pexip page never loads livekit-client, and back.
    if (config.engine === 'livekit') {
        const { LiveKitAdapter } = await import('./adapters/livekit');
        return events => new LiveKitAdapter(config, events);
    }
    const { PexipAdapter } = await import('./adapters/pexip');
    return events => new PexipAdapter(config, events);
};

/** The browser's local storage, or null where the page may not use it. */
function storage(): Storage | null {
    try {
        return window.localStorage;
    } catch {
        return null;
    }
}

const main = async (): Promise<void> => {
    let config: PageConfig;
    try {
        config = readPageConfig(document);
    } catch (error) {
        fail(error instanceof ConfigError ? error.message : 'The meeting settings could not be read.');
        return;
    }
    const page = new MeetingPage(config, await adapterFor(config));
    await page.start();
};

void main();
