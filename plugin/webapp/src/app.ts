// What the components share: the web app's store (who and where the user is), the plugin's
// own state, the client, and the few actions that change things.
import { MeetbridgeClient } from './client';
import { translate, type MessageKey } from './i18n';
import type { Channel, Store } from './mattermost';
import { StateStore, withMeetingsInProgress } from './state';

export class App {
    readonly state = new StateStore();
    readonly client: MeetbridgeClient;

    constructor(readonly host: Store) {
        this.client = new MeetbridgeClient(() => this.siteURL());
    }

    siteURL(): string {
        const configured = this.host.getState().entities.general.config.SiteURL ?? '';
        return (configured || window.location.origin).replace(/\/+$/, '');
    }

    locale(): string {
        const users = this.host.getState().entities.users;
        return users.profiles[users.currentUserId]?.locale ?? 'en';
    }

    t(key: MessageKey, values: Record<string, string | number> = {}): string {
        return translate(this.locale(), key, values);
    }

    channel(channelId: string): Channel | undefined {
        return this.host.getState().entities.channels.channels[channelId];
    }

    /** Which channels have a meeting in progress now (events keep it current afterwards). */
    async refreshMeetingsInProgress(): Promise<void> {
        const answer = await this.client.meetingsInProgress();
        this.state.update(state => withMeetingsInProgress(state, answer));
    }

    notify(notice: string): void {
        this.state.update(state => ({ ...state, notice }));
    }

    /** The call button, the App Bar entry, a card's or a ringing panel's Join: start or join the
     * channel's meeting through meetbridge and show it embedded (or where the engine says). */
    async openMeeting(channelId: string): Promise<void> {
        const answer = await this.client.startOrJoin(channelId);
        if (answer.kind === 'refused') {
            this.notify(answer.message);
            return;
        }
        if (answer.kind === 'elsewhere') {
            // An engine with its own start flow (Zoom): its page, or what meetbridge said.
            if (answer.goto) {
                this.openWindow(answer.goto);
            }
            if (answer.text) {
                this.notify(answer.text);
            }
            return;
        }
        const channel = this.channel(channelId);
        const title = this.t('embed.title', { channel: channel?.display_name || channel?.name || '' });
        this.state.update(state => ({ ...state, embedded: { channelId, url: answer.url, title } }));
    }

    /** Move the embedded meeting into its own window (the meeting page reconnects there). */
    popOut(): void {
        const embedded = this.state.get().embedded;
        if (embedded && this.openWindow(embedded.url)) {
            this.closeEmbedded();
        }
    }

    closeEmbedded(): void {
        this.state.update(state => ({ ...state, embedded: null }));
    }

    private openWindow(url: string): boolean {
        const opened = window.open(url, '_blank');
        if (opened === null) {
            this.notify(this.t('notice.popupBlocked'));
            return false;
        }
        opened.opener = null; // the meeting page gets no handle on Mattermost's window
        return true;
    }
}
