package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"
)

// Shorter secrets are refused: the System Console's "Regenerate" gives 32 characters.
const minSecretLength = 32

// configuration is the plugin's System Console settings (settings_schema in plugin.json).
type configuration struct {
	MeetbridgeURL string
	SharedSecret  string
}

// ready says whether the plugin can talk to meetbridge at all.
func (c *configuration) ready() bool {
	return c != nil && c.MeetbridgeURL != "" && c.SharedSecret != ""
}

// normalised checks the settings and returns them cleaned up (URL without a trailing slash).
// Empty settings are valid: the plugin is installed but not configured yet.
func (c configuration) normalised() (configuration, error) {
	c.MeetbridgeURL = strings.TrimRight(strings.TrimSpace(c.MeetbridgeURL), "/")
	c.SharedSecret = strings.TrimSpace(c.SharedSecret)
	if c.MeetbridgeURL != "" {
		if err := checkMeetbridgeURL(c.MeetbridgeURL); err != nil {
			return c, err
		}
	}
	// The System Console shows a stored secret as a placeholder and may send it back unchanged.
	if c.SharedSecret != "" && c.SharedSecret != model.FakeSetting {
		if err := checkSecret(c.SharedSecret); err != nil {
			return c, err
		}
	}
	return c, nil
}

func checkMeetbridgeURL(raw string) error {
	parsed, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("meetbridge URL is not a valid URL")
	}
	if parsed.Scheme != "http" && parsed.Scheme != "https" {
		return fmt.Errorf("meetbridge URL must start with https:// (or http://)")
	}
	if parsed.Host == "" || parsed.Hostname() == "" {
		return fmt.Errorf("meetbridge URL must name a host")
	}
	if parsed.User != nil || parsed.RawQuery != "" || parsed.Fragment != "" || parsed.Opaque != "" {
		return fmt.Errorf("meetbridge URL must be a plain base URL (no user, query or fragment)")
	}
	return nil
}

func checkSecret(secret string) error {
	if len(secret) < minSecretLength || len(secret) > 256 {
		return fmt.Errorf("the shared secret must be %d to 256 characters", minSecretLength)
	}
	for _, r := range secret {
		if r < 0x21 || r > 0x7e {
			return fmt.Errorf("the shared secret must be printable ASCII without spaces")
		}
	}
	return nil
}

// configurationFrom reads this plugin's entry of a server configuration (keys are matched
// without regard to case, as the server lowercases them).
func configurationFrom(cfg *model.Config) (configuration, bool, error) {
	if cfg == nil || cfg.PluginSettings.Plugins == nil {
		return configuration{}, false, nil
	}
	raw, found := cfg.PluginSettings.Plugins[manifestID]
	if !found {
		return configuration{}, false, nil
	}
	encoded, err := json.Marshal(raw)
	if err != nil {
		return configuration{}, true, fmt.Errorf("plugin settings cannot be read: %w", err)
	}
	var parsed configuration
	if err := json.Unmarshal(encoded, &parsed); err != nil {
		return configuration{}, true, fmt.Errorf("plugin settings have the wrong types")
	}
	return parsed, true, nil
}
