"""German (Deutsch): formal address ("Sie"), as Mattermost's own German."""

from __future__ import annotations

from typing import Final

MESSAGES: Final[dict[str, str]] = {
    # --- durations ----------------------------------------------------------------------
    "duration.seconds.one": "{count} Sekunde",
    "duration.seconds.other": "{count} Sekunden",
    "duration.minutes.one": "{count} Minute",
    "duration.minutes.other": "{count} Minuten",
    "duration.hours.one": "{count} Stunde",
    "duration.hours.other": "{count} Stunden",
    # --- buttons ------------------------------------------------------------------------
    "button.join": "Teilnehmen",
    "button.leave": "Verlassen",
    "button.end": "Beenden",
    "button.ignore": "Ignorieren",
    "button.allow": "Erlauben",
    "button.disallow": "Verbieten",
    # --- the meeting card (channel posts) -------------------------------------------------
    "card.someone": "Jemand",
    "card.nobody_yet": "noch niemand",
    "card.started_by": "Gestartet von",
    "card.engine": "Plattform",
    "card.meeting_id": "Meeting-ID",
    "card.duration": "Dauer",
    "card.attended_by": "Teilgenommen haben ({count})",
    "card.in_meeting": "In der Besprechung ({count})",
    "card.ended_message": "Videobesprechung beendet{topic}. Sie dauerte {lasted}.",
    "card.ended_title": "Besprechung beendet{topic}",
    "card.ended_text": "Dauer: {lasted}.",
    "card.started_message": "{starter} hat eine Videobesprechung gestartet{topic}.",
    "card.live_title": "Videobesprechung läuft{topic}",
    "card.join_link": "[An der Besprechung teilnehmen]({url})",
    "card.join_button_hint": "Nehmen Sie über die Schaltfläche „Teilnehmen“ teil.",
    "card.meet_join_hint": "Nehmen Sie mit /meet join teil.",
    "card.own_apps_footer": (
        "„Verlassen“ schließt die Besprechungsseite von meetbridge. In der eigenen App von "
        "{engine} verlassen Sie die Besprechung mit deren Schaltfläche zum Trennen."
    ),
    # --- ringing (direct messages from the bot) --------------------------------------------
    "ring.calling": ":telephone_receiver: **{caller}** ruft Sie an ({where}).",
    "ring.answer_hint": "Nehmen Sie mit /meet join in dieser Unterhaltung an.",
    "ring.missed": ":no_mobile_phones: Verpasster Anruf von **{caller}** ({where}).",
    "ring.ignored": "Sie haben einen Anruf von **{caller}** ignoriert ({where}).",
    "ring.answered": "Sie haben am Anruf mit **{caller}** teilgenommen ({where}).",
    "ring.direct_message": "Direktnachricht",
    "ring.group_message": "Gruppennachricht",
    "ring.group_message_named": "Gruppennachricht {title}",
    "ring.no_longer_available": "Dieser Anruf ist nicht mehr verfügbar.",
    "ring.ignored_reply": "Anruf ignoriert.",
    # --- /meet help -----------------------------------------------------------------------
    "help.unknown": "`{command}` ist kein /meet-Befehl.\n\n",
    "help.body": (
        "**/meet** — Videobesprechungen in diesem Kanal\n"
        "* `/meet` oder `/meet start [Thema]` — die Besprechung des Kanals starten oder ihr "
        "beitreten, wenn sie läuft\n"
        "* `/meet join` — der Besprechung des Kanals beitreten\n"
        "* `/meet status` — wer in der Besprechung ist und seit wann\n"
        "* `/meet link` — ein dauerhafter Link zur Besprechung dieses Kanals, für seine "
        "Mitglieder\n"
        "* `/meet leave` — alle Ihre Geräte aus der Besprechung nehmen (LiveKit, Pexip; Sie "
        "bestätigen zuerst)\n"
        "* `/meet end` — die Besprechung für alle beenden (LiveKit, Pexip; ihr Host oder ein "
        "Systemadmin)\n"
        "* `/meet host @user` — den Host an jemanden in der Besprechung übergeben (LiveKit, "
        "Pexip; ihr Host oder ein Admin)\n"
        "* `/meet recording start|stop` — die Besprechung aufnehmen, in ihrem Thread gepostet "
        "(LiveKit; Host, Admins)\n"
        "* `/meet captions on|off` — Live-Untertitel in der Besprechung, für alle (LiveKit; "
        "Host, Admins)\n"
        "* `/meet stats` — Bitrate, Paketverlust und Umlaufzeit Ihrer letzten "
        "LiveKit-Sitzung\n"
        "* `/meet max N|default` — die Teilnehmergrenze der LiveKit-Besprechungen dieses "
        "Kanals (Kanaladmins)\n"
        "* `/meet engine livekit|pexip|zoom|default` — die Besprechungsplattform dieses "
        "Kanals (Kanaladmins)\n"
        "* `/meet guest-link [Stunden]` — ein ablaufender Link für externe Gäste (Pexip; "
        "Kanaladmins)\n"
        "* `/meet connect` / `/meet disconnect` — Ihr Zoom-Konto verbinden oder trennen\n"
        "* `/meet settings` — ob Zoom-Besprechungen Ihre persönliche Meeting-ID verwenden\n"
        "* `/meet help` — diese Hilfe"
    ),
    "help.admin": (
        "* `/meet admin` — ein Link zur Admin-Konsole von meetbridge\n"
        "* `/meet admin allow` / `/meet admin disallow` — Besprechungen in diesem Kanal "
        "erlauben oder verbieten"
    ),
    # --- why someone may not join ------------------------------------------------------------
    "refusal.not_available": "Für diesen Kanal sind keine Besprechungen verfügbar",
    "refusal.not_member": "Nur Mitglieder dieses Kanals können seiner Besprechung beitreten.",
    "refusal.unavailable": (
        "Mattermost ist gerade nicht erreichbar; bitte versuchen Sie es gleich noch einmal."
    ),
    "refusal.not_configured": (
        "In meetbridge ist noch kein Pexip-Infinity-Server eingerichtet; fragen Sie einen Admin."
    ),
    "refusal.bad_link": "Dieser Besprechungslink ist ungültig.",
    "refusal.other_engine": (
        "Die Besprechungen dieses Kanals finden jetzt anderswo statt; führen Sie /meet erneut aus."
    ),
    "refusal.engine_refused": "Sie können dieser Besprechung gerade nicht beitreten.",
    # --- /meet replies (ephemeral) -----------------------------------------------------------
    "meet.opening": (
        "Die Besprechung wird geöffnet… Falls nicht, [treten Sie hier bei]({url}) "
        "(dieser Link gilt nur für Sie und 10 Minuten lang)."
    ),
    "meet.opening_short": (
        "Die Besprechung wird geöffnet… Falls nicht, [treten Sie hier bei]({url})."
    ),
    "meet.no_meeting": ("In diesem Kanal läuft keine Besprechung. Starten Sie eine mit `/meet`."),
    "meet.status_empty": (
        "Eine Besprechung{topic} läuft seit {running}; gerade ist niemand darin."
    ),
    "meet.status": "Eine Besprechung{topic} läuft seit {running}. Darin ({count}):\n{names}",
    "meet.link": (
        "Link zur Besprechung dieses Kanals: {url}\n"
        "Er bleibt für jede Besprechung hier gleich. Wer ihn öffnet, meldet sich bei "
        "Mattermost an und muss Mitglied dieses Kanals sein; wird der Kanal archiviert, "
        "funktioniert er nicht mehr."
    ),
    "meet.admin_only": "Nur Systemadmins können `/meet admin` verwenden.",
    "meet.admin_console": (
        "[Admin-Konsole von meetbridge öffnen]({url}) (ein persönlicher Link, 10 Minuten gültig)."
    ),
    "meet.admin_channel": "Besprechungen in diesem Kanal:",
    "meet.engine_usage": "Verwenden Sie {choices} oder `/meet engine default`.",
    "meet.max_usage": "Verwenden Sie `/meet max N` (1 bis {max}) oder `/meet max default`.",
    "meet.guest_link_usage": (
        "Verwenden Sie `/meet guest-link` oder `/meet guest-link STUNDEN` (1 bis {max})."
    ),
    "meet.guest_links_unavailable": (
        "Die Besprechungsplattform dieses Kanals bietet keine Gastlinks."
    ),
    "meet.guest_links_direct": (
        "Eine Besprechung in einer Direktnachricht ist nur für die beiden Personen darin, "
        "deshalb gibt es dort keine Gastlinks: Erstellen Sie einen in einem Kanal oder einer "
        "Gruppennachricht."
    ),
    "meet.guest_link": (
        "Gastlink zur Besprechung dieses Kanals, gültig für {hours}: {link}\n"
        "Teilen Sie ihn nur mit den Gästen; widerrufen können Sie ihn in der Admin-Konsole "
        "(Gastlinks)."
    ),
    "meet.mattermost_unreachable": (
        "Mattermost ist gerade nicht erreichbar; bitte versuchen Sie es gleich noch einmal."
    ),
    "meet.channel_admins_only": "Nur Kanaladmins und Systemadmins können {what}.",
    "meet.what.choose_engine": "die Plattform dieses Kanals wählen",
    "meet.what.set_limit": "die Teilnehmergrenze dieses Kanals festlegen",
    "meet.what.guest_links": "Gastlinks erstellen",
    "meet.confirmation_stale": "Diese Bestätigung bewirkt nichts mehr.",
    "meet.limit_default": (
        "Besprechungen in diesem Kanal nehmen jetzt so viele Teilnehmende auf, wie die "
        "Installation erlaubt."
    ),
    "meet.limit_set": (
        "Besprechungen in diesem Kanal nehmen jetzt höchstens {limit} Teilnehmende auf."
    ),
    "meet.not_available_for": (
        "`/meet {verb}` ist für Besprechungen mit {engine} nicht verfügbar."
    ),
    "meet.not_in_meeting": "Sie sind nicht in der Besprechung dieses Kanals.",
    "meet.nothing_running": "In diesem Kanal läuft keine Besprechung.",
    "meet.only_host_end": "Nur der Host der Besprechung oder ein Systemadmin kann sie beenden.",
    "meet.only_host_recording": (
        "Nur der Host der Besprechung oder ein Systemadmin kann die Aufnahme starten oder beenden."
    ),
    "meet.only_host_captions": (
        "Nur der Host der Besprechung oder ein Systemadmin kann Untertitel ein- oder ausschalten."
    ),
    "meet.only_host_host": (
        "Nur der Host der Besprechung oder ein Systemadmin kann den Host übergeben."
    ),
    "meet.host_usage": "Sagen Sie, wer Host werden soll: `/meet host @benutzername`.",
    "meet.try_again": "Mattermost ist gerade nicht erreichbar; bitte versuchen Sie es erneut.",
    "meet.not_present": "@{username} ist nicht in dieser Besprechung.",
    "meet.engine_changed": (
        "Besprechungen hier verwenden jetzt {engine}; es wurde nichts geändert."
    ),
    "meet.left": ("Sie haben die Besprechung verlassen. Mit `/meet join` treten Sie wieder bei."),
    "meet.ended": "Die Besprechung wurde für alle beendet.",
    "meet.member_gone": "Dieses Mitglied ist nicht mehr in der Besprechung.",
    "meet.host_handed": "Der Host wurde übergeben.",
    "meet.recording_usage": ("Verwenden Sie `/meet recording start` oder `/meet recording stop`."),
    "meet.captions_usage": "Verwenden Sie `/meet captions on` oder `/meet captions off`.",
    "meet.no_accounts": "Keine Besprechungsplattform hier verwendet persönliche Konten.",
    "meet.accounts_not_ready": (
        "{engine} ist in meetbridge noch nicht eingerichtet; fragen Sie einen Admin."
    ),
    "meet.shared_account": (
        "{engine} ist von einem Admin für alle verbunden; Sie müssen nichts verbinden."
    ),
    "meet.connect": (
        "[Ihr {engine}-Konto verbinden]({link}) (ein persönlicher Link, 10 Minuten gültig)."
    ),
    "meet.not_yours": (
        "Diese Anfrage konnte nicht als Ihre bestätigt werden. Führen Sie den Befehl in "
        "Mattermost erneut aus."
    ),
    "meet.not_confirmed": (
        "Mattermost konnte die Bestätigung nicht anzeigen (die Anfrage hat vielleicht zu lange "
        "gedauert). Bitte versuchen Sie es erneut."
    ),
    "meet.choose_option": "Wählen Sie eine der Optionen.",
    "meet.engine_now": "Besprechungen in diesem Kanal verwenden jetzt {engine}.",
    "meet.admins_only_change": "Nur Systemadmins können das ändern.",
    "meet.admins_only_disconnect": (
        "Nur Systemadmins können das gemeinsame {engine}-Konto trennen."
    ),
    "meet.allowed": "Besprechungen sind in diesem Kanal jetzt erlaubt.",
    "meet.disallowed": "Besprechungen sind in diesem Kanal jetzt verboten.",
    "meet.leave_in_window": (
        "Um die Besprechung zu verlassen, wählen Sie im Besprechungsfenster „Trennen“ (oder "
        "schließen Sie es)."
    ),
    "meet.button_stale": "Diese Schaltfläche bewirkt nichts mehr.",
    "meet.this_channel": "diesem Kanal",
    "hours.one": "{count} Stunde",
    "hours.other": "{count} Stunden",
    # --- /meet stats ------------------------------------------------------------------------
    "stats.none": (
        "Noch keine Anrufstatistik von Ihnen. Die Besprechungsseite von meetbridge meldet sie, "
        "während Sie in einer LiveKit-Besprechung sind."
    ),
    "stats.report": (
        "Ihre letzte LiveKit-Sitzung, wie Ihr Browser sie gemessen hat (WebRTC-Statistik, "
        "gemeldet vor {ago}): Senden {send} kbit/s, Empfangen {receive} kbit/s, Paketverlust "
        "{loss} %, Umlaufzeit {rtt} ms."
    ),
    # --- confirmation dialogs (titles at most 24 characters) ----------------------------------
    "dialog.confirm": "Bestätigen",
    "dialog.save": "Speichern",
    "dialog.engine_default_title": "Standardplattform?",
    "dialog.engine_title": "{engine} nutzen?",
    "dialog.engine_text": "Besprechungen in {channel} verwenden sie ab jetzt.",
    "dialog.max_title": "Teilnehmergrenze setzen?",
    "dialog.max_text": (
        "Besprechungen in {channel} nehmen ab jetzt {shown} Teilnehmende (Geräte) auf."
    ),
    "dialog.max_default": "so viele wie die Installation erlaubt",
    "dialog.max_at_most": "höchstens {limit}",
    "dialog.guest_link_title": "Gastlink erstellen?",
    "dialog.guest_link_text": (
        "Jeder mit dem Link kann der Besprechung von {channel} {hours} lang als Gast "
        "beitreten, bis ein Admin ihn widerruft."
    ),
    "dialog.guest_link_submit": "Link erstellen",
    "dialog.leave_title": "Besprechung verlassen?",
    "dialog.leave_text": (
        "Alle Ihre Geräte in der Besprechung von {channel} verlassen sie. Sie können wieder "
        "beitreten."
    ),
    "dialog.leave_submit": "Verlassen",
    "dialog.end_title": "Besprechung beenden?",
    "dialog.end_text": "Alle in der Besprechung von {channel} werden getrennt.",
    "dialog.end_submit": "Besprechung beenden",
    "dialog.host_title": "Host übergeben?",
    "dialog.host_text": "@{username} wird Host der Besprechung von {channel}.",
    "dialog.host_submit": "Zum Host machen",
    "dialog.recording_start_title": "Aufnahme starten?",
    "dialog.recording_start_text": (
        "Alle in der Besprechung von {channel} erfahren, dass aufgenommen wird; die Aufnahme "
        "wird im Thread der Besprechung gepostet, wenn sie endet."
    ),
    "dialog.recording_start_submit": "Aufnahme starten",
    "dialog.recording_stop_title": "Aufnahme beenden?",
    "dialog.recording_stop_text": (
        "Die Aufnahme der Besprechung von {channel} endet und wird in ihrem Thread gepostet."
    ),
    "dialog.recording_stop_submit": "Aufnahme beenden",
    "dialog.captions_on_title": "Live-Untertitel ein?",
    "dialog.captions_on_text": (
        "Alle in der Besprechung von {channel} erfahren es und können das Gesagte als "
        "Untertitel mit dem Namen der sprechenden Person ein- oder ausblenden."
    ),
    "dialog.captions_on_submit": "Untertitel einschalten",
    "dialog.captions_off_title": "Live-Untertitel aus?",
    "dialog.captions_off_text": "Die Untertitel enden für alle in der Besprechung von {channel}.",
    "dialog.captions_off_submit": "Untertitel ausschalten",
    "dialog.disconnect_title": "{engine} trennen?",
    "dialog.disconnect_text": "meetbridge vergisst Ihre Verbindung zu {engine}.",
    "dialog.settings_title": "{engine}-Einstellungen",
    "dialog.allow_title": "Besprechungen erlauben?",
    "dialog.allow_text": (
        "Mitglieder von {channel} können dann Besprechungen starten und ihnen beitreten."
    ),
    "dialog.disallow_title": "Besprechungen verbieten?",
    "dialog.disallow_text": (
        "Niemand kann dann in {channel} Besprechungen starten oder ihnen beitreten."
    ),
    # --- thread notices (posts in a meeting card's thread, read by many) -----------------------
    "thread.someone": "Jemand",
    "thread.meeting_line": "**{name}** (in der Besprechung): {text}",
    "thread.incomplete": "**Unvollständig:** {reason}",
    "recording.posted": "Aufnahme dieser Besprechung ({length}, {size}).",
    "recording.disk_full": (
        "Die Aufnahme wurde beendet, weil der Speicherplatz des Servers fast erschöpft ist."
    ),
    "recording.cut_short": (
        "Der Rekorder wurde unerwartet beendet; das ist, was er bis dahin aufgenommen hat."
    ),
    "transcript.no_speech": (
        "Transkript der Aufnahme dieser Besprechung: Es wurde keine Sprache erkannt."
    ),
    "transcript.posted": "Transkript der Aufnahme dieser Besprechung ({speakers}).",
    "transcript.more_speakers": "{names} und {count} weitere",
    "transcript.unreadable": (
        "Der Ton von {speakers} konnte nicht gelesen werden; was sie gesagt haben, fehlt in "
        "diesem Transkript."
    ),
    "transcript.none_readable": (
        "Kein Transkript der Aufnahme dieser Besprechung: Der Ton von {speakers} konnte nicht "
        "gelesen werden."
    ),
    "transcript.incomplete": "Die Aufnahme endete vorzeitig; dies umfasst, was sie enthält.",
    "transcript.failed": (
        "Das Transkript dieser Aufnahme konnte nicht erstellt werden ({reason}). Fragen Sie "
        "einen Admin."
    ),
    "transcript.failed.model_refused": "das Sprachmodell wurde abgelehnt",
    "transcript.failed.worker_failed": "die Transkription ist fehlgeschlagen",
    # --- what engines answer (replies to the user who asked) ---------------------------------
    "engine.livekit_not_configured": (
        "In meetbridge ist noch kein LiveKit-Server eingerichtet; fragen Sie einen Admin."
    ),
    "engine.livekit_unreachable": (
        "Der LiveKit-Server ist gerade nicht erreichbar; bitte versuchen Sie es gleich noch einmal."
    ),
    "engine.pexip_unreachable": (
        "Der Pexip Conferencing Node ist gerade nicht erreichbar; bitte versuchen Sie es erneut."
    ),
    "engine.removed": "Der Host hat Sie aus dieser Besprechung entfernt.",
    "engine.left_channel": (
        "Sie sind nicht mehr Mitglied dieses Kanals und wurden deshalb aus seiner Besprechung "
        "entfernt."
    ),
    "engine.full.one": (
        "Diese Besprechung ist voll (höchstens {count} Teilnehmende); versuchen Sie es erneut, "
        "wenn jemand gegangen ist."
    ),
    "engine.full.other": (
        "Diese Besprechung ist voll (höchstens {count} Teilnehmende); versuchen Sie es erneut, "
        "wenn jemand gegangen ist."
    ),
    "engine.meeting_ended": "Diese Besprechung ist beendet.",
    "recording.needs_ffmpeg": (
        "Für Aufnahmen braucht der meetbridge-Host ffmpeg; fragen Sie einen Admin."
    ),
    "recording.needs_sdk": (
        "Für Aufnahmen braucht meetbridge das Extra `recording` (LiveKits SDK); fragen Sie "
        "einen Admin."
    ),
    "recording.disk_low": (
        "Die Aufnahme kann nicht starten: Der Speicherplatz des Servers ist fast erschöpft. "
        "Fragen Sie einen Admin."
    ),
    "recording.already": "Diese Besprechung wird bereits aufgenommen.",
    "recording.not_started": "Der Rekorder konnte nicht gestartet werden.",
    "recording.started": (
        "Die Aufnahme läuft. Die Datei wird im Thread der Besprechung gepostet, wenn sie endet."
    ),
    "recording.not_recording": "Diese Besprechung wird nicht aufgenommen.",
    "recording.stopped": (
        "Die Aufnahme wurde beendet. Die Datei wird in Kürze im Thread der Besprechung gepostet."
    ),
    "captions.needs_sdk": (
        "Für Untertitel braucht meetbridge das Extra `recording` (LiveKits SDK); fragen Sie "
        "einen Admin."
    ),
    "captions.needs_model": (
        "Für Untertitel braucht meetbridge das Extra `transcription` (das Sprachmodell); "
        "fragen Sie einen Admin."
    ),
    "captions.already_on": "Live-Untertitel sind in dieser Besprechung bereits an.",
    "captions.not_started": "Die Untertitelung konnte nicht gestartet werden.",
    "captions.started": (
        "Live-Untertitel sind an: Alle in der Besprechung können sie ein- oder ausblenden."
    ),
    "captions.not_on": "Live-Untertitel sind in dieser Besprechung nicht an.",
    "captions.stopped": "Live-Untertitel sind aus.",
    # --- the custom status shown while someone is in a meeting (their language) -------------
    "status.in_meeting": "In einer Videokonferenz",
}
