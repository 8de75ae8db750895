// The small part of the Mattermost web app's plugin API this plugin uses: the registry's
// documented calls (webapp/channels/src/plugins/registry.ts) and the Redux state it reads.
import type React from 'react';

export interface Channel {
    id: string;
    name: string;
    display_name: string;
    /** O public, P private, D direct, G group */
    type: string;
}

export interface ChannelMembership {
    channel_id: string;
    user_id: string;
}

export interface Post {
    id: string;
    channel_id: string;
    root_id?: string;
    user_id?: string;
    type: string;
    message: string;
    props?: Record<string, unknown> | null;
}

export interface WebSocketMessage {
    event: string;
    data: Record<string, unknown>;
    broadcast?: { channel_id?: string; user_id?: string };
}

export interface UserProfile {
    id: string;
    username: string;
    locale?: string;
}

export interface GlobalState {
    entities: {
        general: { config: { SiteURL?: string } };
        users: { currentUserId: string; profiles: Record<string, UserProfile | undefined> };
        channels: {
            currentChannelId: string;
            channels: Record<string, Channel | undefined>;
        };
    };
}

export interface Store {
    getState(): GlobalState;
    dispatch(action: unknown): unknown;
    subscribe(listener: () => void): () => void;
}

export type ChannelAction = (channel: Channel, member?: ChannelMembership) => void;

export interface PluginRegistry {
    registerCallButtonAction(
        button: React.ReactNode,
        dropdownButton: React.ReactNode,
        action: ChannelAction,
    ): string;
    registerAppBarComponent(iconUrl: string, action: ChannelAction, tooltipText: React.ReactNode): string;
    registerRootComponent(component: React.ComponentType): string;
    registerPostTypeComponent(type: string, component: React.ComponentType<PostTypeProps>): string;
    registerWebSocketEventHandler(event: string, handler: (message: WebSocketMessage) => void): void;
    registerReconnectHandler(handler: () => void): void;
    registerTranslations(getTranslationsForLocale: (locale: string) => Record<string, string>): void;
    /** Marked internal by Mattermost (subject to change); absent on old servers. */
    registerSidebarChannelLinkLabelComponent?(component: React.ComponentType<{ channel: Channel }>): string;
}

export interface PostTypeProps {
    post: Post;
    compactDisplay?: boolean;
    isRHS?: boolean;
}
