/**
 * The meeting page: reads the config the server rendered, opens camera and microphone, joins
 * the Pexip conference and keeps the view in step with the connection and layout states.
 */

import './meeting.css';

import { MeetingCall, type ParticipantView } from './call';
import { ConfigError, readConfig, type MeetingConfig } from './config';
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
import { MeetingView, openPresentationWindow } from './ui';

/** Pause before an automatic rejoin while online, doubled for each further one. */
const REJOIN_DELAY_MS = 1000;

class MeetingPage {
    private connection: ConnectionState = initialConnection;
    private layout: LayoutState = initialLayout;
    private participants: ParticipantView[] = [];
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
    private readonly call: MeetingCall;

    constructor(private readonly config: MeetingConfig) {
        this.micMuted = config.startMuted;
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
        });
        this.call = new MeetingCall(config, {
            connection: event => this.updateConnection(event),
            participants: list => {
                this.participants = list;
                this.view.renderParticipants(list);
                this.renderLayout();
            },
            remoteStream: stream => this.view.showRemote(stream),
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
        });
        this.media.onEffectFailed = message => {
            this.view.setEffect('none');
            this.view.setEffectsMessage(message);
            this.view.showSelf(this.media.stream);
            this.call.setStream(this.media.stream);
        };
        this.view.setShareSupported(supportsScreenSharing());
        this.renderMedia();
        this.view.renderConnection(this.connection);
        this.renderLayout();

        window.addEventListener('offline', () => this.updateConnection({ type: 'offline' }));
        window.addEventListener('online', () => {
            this.updateConnection({ type: 'online' });
            this.recover(true);
        });
        window.addEventListener('pagehide', () => this.call.leaveOnUnload());
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
        await this.call.leave();
        this.updateLayout({ type: 'presentation-stopped' });
        this.view.focusRetry();
    }

    private updateConnection(event: ConnectionEvent): void {
        this.connection = reduceConnection(this.connection, event);
        this.view.renderConnection(this.connection);
        if (!inCall(this.connection) && event.type !== 'join' && this.layout.presentation !== 'none') {
            this.updateLayout({ type: 'presentation-stopped' });
        }
        if (event.type === 'joined') {
            this.rejoins = 0;
        } else if (event.type === 'lost') {
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
        await this.call.muteAudio(this.micMuted);
    }

    private async toggleCamera(): Promise<void> {
        this.cameraOff = !this.cameraOff;
        this.media.setCameraOff(this.cameraOff);
        this.renderMedia();
        await this.call.muteVideo(this.cameraOff);
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
            this.screen = await captureScreen();
        } catch (error) {
            if (!(error instanceof Error && error.name === 'NotAllowedError')) {
                this.view.notice(explainMediaError(error, 'screen capture'));
            }
            return;
        }
        const [track] = this.screen.getVideoTracks();
        track?.addEventListener('ended', () => this.stopSharing());
        this.call.present(this.screen);
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
            this.call.stopPresenting();
        }
        if (this.layout.presentation === 'sending') {
            this.updateLayout({ type: 'presentation-stopped' });
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

const main = (): void => {
    let config: MeetingConfig;
    try {
        config = readConfig(document);
    } catch (error) {
        fail(error instanceof ConfigError ? error.message : 'The meeting settings could not be read.');
        return;
    }
    const page = new MeetingPage(config);
    void page.start();
};

main();
