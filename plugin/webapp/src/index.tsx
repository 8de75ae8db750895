// The companion plugin's webapp part: registers its components with the Mattermost web app.
// It holds no meeting logic; every action goes to meetbridge through the plugin's server part.
import React from 'react';

import { App } from './app';
import {
    APP_BAR_ICON,
    makeCallButton,
    makeIncomingCalls,
    makeMeetingDock,
    makeMeetingPost,
    makeSidebarIndicator,
} from './components';
import { translationsFor } from './i18n';
import { PLUGIN_ID, POST_TYPE, pluginEvent } from './manifest';
import type { Channel, PluginRegistry, Store, WebSocketMessage } from './mattermost';
import { withIncomingCall, withMeetingState } from './state';
import { addStyles } from './styles';

class MeetbridgePlugin {
    app: App | null = null;

    initialize(registry: PluginRegistry, store: Store): void {
        const app = new App(store);
        this.app = app;
        addStyles();
        const start = (channel: Channel) => void app.openMeeting(channel.id);
        const CallButton = makeCallButton(app, false);
        const DropdownButton = makeCallButton(app, true);
        registry.registerCallButtonAction(<CallButton />, <DropdownButton />, start);
        registry.registerAppBarComponent(APP_BAR_ICON, start, app.t('call.tooltip'));
        registry.registerPostTypeComponent(POST_TYPE, makeMeetingPost(app));
        registry.registerRootComponent(makeIncomingCalls(app));
        registry.registerRootComponent(makeMeetingDock(app));
        // Internal in Mattermost's registry (may change): without it, no sidebar indicator.
        registry.registerSidebarChannelLinkLabelComponent?.(makeSidebarIndicator(app));
        registry.registerWebSocketEventHandler(pluginEvent('meeting_state'), (message: WebSocketMessage) =>
            app.state.update(state => withMeetingState(state, message.data ?? {})),
        );
        registry.registerWebSocketEventHandler(pluginEvent('incoming_call'), (message: WebSocketMessage) =>
            app.state.update(state => withIncomingCall(state, message.data ?? {})),
        );
        registry.registerTranslations(translationsFor);
        // Events only tell what changes: the current list on load and after a lost connection.
        registry.registerReconnectHandler(() => void app.refreshMeetingsInProgress());
        void app.refreshMeetingsInProgress();
    }

    uninitialize(): void {
        this.app?.closeEmbedded();
    }
}

declare global {
    interface Window {
        registerPlugin(id: string, plugin: MeetbridgePlugin): void;
    }
}

window.registerPlugin(PLUGIN_ID, new MeetbridgePlugin());
