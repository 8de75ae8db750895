// Every string the plugin shows, in English and German, chosen by the user's Mattermost locale.
// The same catalogue is given to the web app through registerTranslations.
import { PLUGIN_ID } from './manifest';

const en = {
    'call.button': 'Meeting',
    'call.tooltip': 'Start or join this channel\'s meeting (meetbridge)',
    'card.live': 'Video meeting in progress',
    'card.ended': 'Meeting ended',
    'card.startedBy': 'Started by {name}',
    'card.engine': 'on {engine}',
    'card.lasted': 'Lasted {duration}',
    'card.nobody': 'Nobody is in the meeting yet.',
    'card.inMeeting': 'In the meeting ({count})',
    'card.attended': 'Attended by ({count})',
    'card.join': 'Join',
    'card.leave': 'Leave',
    'card.end': 'End',
    'card.ownApps': "Leave closes meetbridge's meeting page. In {engine}'s own app, leave with its Disconnect button.",
    'ring.calling': '{caller} is calling you',
    'ring.join': 'Join',
    'ring.ignore': 'Ignore',
    'ring.missed': 'Missed call from {caller}',
    'ring.dismiss': 'Dismiss',
    'embed.title': 'Meeting: {channel}',
    'embed.popOut': 'Pop out',
    'embed.close': 'Leave the embedded meeting',
    'sidebar.live': 'A meeting is in progress',
    'notice.dismiss': 'Dismiss',
    'notice.unreachable': 'meetbridge cannot be reached right now.',
    'notice.popupBlocked': 'Your browser blocked the meeting window: allow pop-ups for this site.',
};

export type MessageKey = keyof typeof en;

const de: Record<MessageKey, string> = {
    'call.button': 'Besprechung',
    'call.tooltip': 'Besprechung dieses Kanals starten oder beitreten (meetbridge)',
    'card.live': 'Videobesprechung läuft',
    'card.ended': 'Besprechung beendet',
    'card.startedBy': 'Gestartet von {name}',
    'card.engine': 'über {engine}',
    'card.lasted': 'Dauer: {duration}',
    'card.nobody': 'Noch niemand ist in der Besprechung.',
    'card.inMeeting': 'In der Besprechung ({count})',
    'card.attended': 'Teilgenommen ({count})',
    'card.join': 'Beitreten',
    'card.leave': 'Verlassen',
    'card.end': 'Beenden',
    'card.ownApps': 'Verlassen schließt die Besprechungsseite von meetbridge. In der App von {engine} selbst verlassen Sie die Besprechung mit deren Trennen-Schaltfläche.',
    'ring.calling': '{caller} ruft Sie an',
    'ring.join': 'Beitreten',
    'ring.ignore': 'Ignorieren',
    'ring.missed': 'Verpasster Anruf von {caller}',
    'ring.dismiss': 'Schließen',
    'embed.title': 'Besprechung: {channel}',
    'embed.popOut': 'In eigenem Fenster',
    'embed.close': 'Eingebettete Besprechung verlassen',
    'sidebar.live': 'Eine Besprechung läuft',
    'notice.dismiss': 'Schließen',
    'notice.unreachable': 'meetbridge ist gerade nicht erreichbar.',
    'notice.popupBlocked': 'Der Browser hat das Besprechungsfenster blockiert: Pop-ups für diese Seite erlauben.',
};

const catalogues: Record<string, Record<MessageKey, string>> = { en, de };

/** The catalogue for a Mattermost locale ("de", "en", "en-AU"…): English where we have none. */
export function catalogueFor(locale: string | undefined): Record<MessageKey, string> {
    const language = (locale ?? 'en').toLowerCase().split(/[-_]/)[0] ?? 'en';
    return catalogues[language] ?? en;
}

export function translate(
    locale: string | undefined,
    key: MessageKey,
    values: Record<string, string | number> = {},
): string {
    const template = catalogueFor(locale)[key];
    return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
        name in values ? String(values[name]) : whole,
    );
}

/** For registry.registerTranslations: our keys, namespaced by the plugin id. */
export function translationsFor(locale: string): Record<string, string> {
    const catalogue = catalogueFor(locale);
    const namespaced: Record<string, string> = {};
    for (const [key, text] of Object.entries(catalogue)) {
        namespaced[`${PLUGIN_ID}.${key}`] = text;
    }
    return namespaced;
}
