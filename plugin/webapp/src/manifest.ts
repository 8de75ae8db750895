/** The plugin's id: must equal "id" in plugin/plugin.json (a test checks it). */
export const PLUGIN_ID = 'com.meetbridge.companion';

/** The name Mattermost gives a WebSocket event the plugin's server part publishes. */
export const pluginEvent = (name: string): string => `custom_${PLUGIN_ID}_${name}`;

/** meetbridge's card posts (chat/mattermost/rendering.py POST_TYPE). */
export const POST_TYPE = 'custom_meetbridge';
