// The host page: what the Mattermost web app gives a plugin, reduced to what tests need.
// Registry calls follow webapp/channels/src/plugins/registry.ts (positional arguments, or one
// object of named ones); the store follows the shape of the web app's Redux state.
(function () {
    'use strict';
    const h = React.createElement;
    const params = new URLSearchParams(location.search);
    const registered = {
        callButtons: [], appBar: [], roots: [], postTypes: {}, sidebarLabels: [],
        wsHandlers: {}, reconnectHandlers: [], translations: [],
    };
    const host = (window.mmHost = { registered, events: [], actions: [], ready: false, errors: [] });
    window.addEventListener('error', e => host.errors.push(String(e.message)));

    // --- the store -------------------------------------------------------------------------
    let state = {
        entities: {
            general: { config: { SiteURL: location.origin } },
            users: { currentUserId: '', profiles: {} },
            channels: { currentChannelId: '', channels: {} },
        },
    };
    const listeners = new Set();
    const store = {
        getState: () => state,
        dispatch: action => { host.actions.push(action); return action; },
        subscribe: listener => { listeners.add(listener); return () => listeners.delete(listener); },
    };
    function setState(change) {
        state = change(state);
        listeners.forEach(listener => listener());
    }
    host.store = store;

    // --- the registry ----------------------------------------------------------------------
    // Mattermost's reArg: f(a, b, c) or f({a, b, c}).
    function reArg(names, body) {
        return function (...args) {
            const first = args[0];
            if (args.length === 1 && first && typeof first === 'object' && !React.isValidElement(first) &&
                names.some(name => name in first)) {
                return body(first);
            }
            const named = {};
            names.forEach((name, i) => { named[name] = args[i]; });
            return body(named);
        };
    }
    let nextId = 0;
    const id = () => `component-${++nextId}`;
    function registryFor(pluginId) {
        return {
            registerCallButtonAction: reArg(['button', 'dropdownButton', 'action'], o => {
                registered.callButtons.push({ ...o, id: id(), pluginId }); render(); return nextId;
            }),
            registerAppBarComponent: reArg(['iconUrl', 'action', 'tooltipText'], o => {
                registered.appBar.push({ ...o, id: id() }); render(); return nextId;
            }),
            registerRootComponent: reArg(['component'], o => {
                registered.roots.push({ ...o, id: id() }); render(); return nextId;
            }),
            registerPostTypeComponent: reArg(['type', 'component'], o => {
                registered.postTypes[o.type] = o.component; render(); return id();
            }),
            registerSidebarChannelLinkLabelComponent: reArg(['component'], o => {
                registered.sidebarLabels.push({ ...o, id: id() }); render(); return nextId;
            }),
            registerWebSocketEventHandler: reArg(['event', 'handler'], o => {
                registered.wsHandlers[o.event] = o.handler;
            }),
            registerReconnectHandler: reArg(['handler'], o => { registered.reconnectHandlers.push(o.handler); }),
            registerTranslations: reArg(['getTranslationsForLocale'], o => {
                registered.translations.push(o.getTranslationsForLocale);
            }),
        };
    }
    window.registerPlugin = (pluginId, plugin) => {
        host.pluginId = pluginId;
        plugin.initialize(registryFor(pluginId), store);
    };

    // --- Mattermost's API, as the signed-in user (session cookie) --------------------------
    async function api(path, options = {}) {
        const response = await fetch(`/api/v4${path}`, {
            credentials: 'same-origin',
            ...options,
            headers: { 'X-Requested-With': 'XMLHttpRequest', ...(options.headers || {}) },
        });
        if (!response.ok) {
            throw new Error(`${path}: ${response.status}`);
        }
        return response.json();
    }

    // --- the UI: sidebar, channel header with the call button, posts, App Bar -------------
    let posts = [];
    function currentChannel() {
        const channels = state.entities.channels;
        return channels.channels[channels.currentChannelId];
    }
    function channelLabel(channel) {
        return channel.display_name || (channel.type === 'D' ? 'Direct message' : channel.name);
    }
    function Sidebar() {
        const channels = Object.values(state.entities.channels.channels);
        return h('nav', { className: 'sidebar' }, channels.map(channel =>
            h('a', {
                key: channel.id, href: '#', id: `sidebarItem_${channel.name}`,
                className: channel.id === state.entities.channels.currentChannelId ? 'active' : '',
                onClick: e => { e.preventDefault(); switchChannel(channel.id); },
            },
            h('span', { className: 'SidebarChannelLinkLabel' }, channelLabel(channel)),
            registered.sidebarLabels.map(label => h(label.component, { key: label.id, channel })))));
    }
    function ChannelHeader() {
        const channel = currentChannel();
        const member = { channel_id: channel?.id, user_id: state.entities.users.currentUserId };
        return h('header', { className: 'channel-header' },
            h('h1', { id: 'channelHeaderTitle' }, channel ? channelLabel(channel) : ''),
            // One provider: its own button; several: a dropdown of their dropdownButtons.
            registered.callButtons.length === 1
                ? h('button', { id: 'call-button', onClick: () => registered.callButtons[0].action(channel, member) },
                    registered.callButtons[0].button)
                : registered.callButtons.map(b => h('button', { key: b.id, onClick: () => b.action(channel, member) },
                    b.dropdownButton)));
    }
    function Post({ post }) {
        const Custom = registered.postTypes[post.type];
        return h('div', { className: 'post', 'data-post-id': post.id },
            h('div', { className: 'post__author' }, post.user_id),
            Custom ? h(Custom, { post, compactDisplay: false, isRHS: false }) : h('div', null, post.message));
    }
    function AppBar() {
        const channel = currentChannel();
        return h('aside', { className: 'app-bar' }, registered.appBar.map(item =>
            h('button', { key: item.id, className: 'app-bar-item', title: String(item.tooltipText || ''),
                onClick: () => item.action(channel, { channel_id: channel?.id }) },
            h('img', { src: item.iconUrl, alt: '' }))));
    }
    function Host() {
        return h(React.Fragment, null,
            h(Sidebar),
            h('main', { className: 'center' }, h(ChannelHeader),
                h('div', { className: 'posts', id: 'posts' }, posts.map(post => h(Post, { key: post.id, post })))),
            h(AppBar));
    }
    function Roots() {
        return h(React.Fragment, null, registered.roots.map(root => h(root.component, { key: root.id })));
    }
    // Roots live in their own React root: re-rendering the channel view never remounts them,
    // as in the web app, where root components survive channel switches.
    const hostRoot = ReactDOM.createRoot(document.getElementById('host'));
    const pluginRoots = ReactDOM.createRoot(document.getElementById('roots'));
    let rootsRendered = 0;
    function render() {
        hostRoot.render(h(Host));
        if (registered.roots.length !== rootsRendered) {
            rootsRendered = registered.roots.length;
            pluginRoots.render(h(Roots));
        }
    }
    host.render = render;

    async function loadPosts(channelId) {
        const listing = await api(`/channels/${channelId}/posts?per_page=60`);
        posts = listing.order.map(postId => listing.posts[postId]).reverse();
        render();
    }
    async function switchChannel(channelId) {
        setState(s => ({ ...s, entities: { ...s.entities, channels: { ...s.entities.channels, currentChannelId: channelId } } }));
        posts = [];
        render();
        await loadPosts(channelId);
    }
    host.switchChannel = switchChannel;

    function onPost(post) {
        if (post.channel_id !== state.entities.channels.currentChannelId) {
            return;
        }
        const at = posts.findIndex(p => p.id === post.id);
        posts = at < 0 ? [...posts, post] : posts.map(p => (p.id === post.id ? post : p));
        render();
    }

    function connect() {
        const ws = new WebSocket(`${location.origin.replace(/^http/, 'ws')}/api/v4/websocket`);
        ws.onmessage = message => {
            const event = JSON.parse(message.data);
            host.events.push(event);
            if (event.event === 'hello') {
                host.connected = true;
            }
            if (event.event === 'posted' || event.event === 'post_edited') {
                onPost(JSON.parse(event.data.post));
            }
            const handler = registered.wsHandlers[event.event];
            if (handler) {
                handler(event);
            }
        };
    }

    async function start() {
        const me = await api('/users/me');
        const teamId = params.get('team');
        const channels = await api(`/users/me/teams/${teamId}/channels`);
        const byId = {};
        channels.filter(c => !c.delete_at).forEach(c => { byId[c.id] = c; });
        const locale = params.get('locale');
        setState(s => ({
            ...s,
            entities: {
                ...s.entities,
                users: { currentUserId: me.id, profiles: { [me.id]: { ...me, ...(locale ? { locale } : {}) } } },
                channels: { currentChannelId: params.get('channel') || channels[0].id, channels: byId },
            },
        }));
        connect();
        // The plugin bundle as Mattermost installed it, loaded as the web app loads it.
        const plugins = await api('/plugins/webapp');
        for (const plugin of plugins) {
            // As the web app does: the server names /static/<id>/…, files are under /static/plugins/.
            const path = plugin.webapp.bundle_path.replace(/^\/static\/(?!plugins\/)/, '/static/plugins/');
            await new Promise((resolve, reject) => {
                const script = document.createElement('script');
                script.src = path;
                script.onload = resolve;
                script.onerror = () => reject(new Error(`cannot load ${path}`));
                document.body.appendChild(script);
            });
        }
        render();
        await loadPosts(state.entities.channels.currentChannelId);
        host.ready = true;
    }
    start().catch(error => { host.errors.push(String(error)); });
})();
