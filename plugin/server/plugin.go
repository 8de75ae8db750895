package main

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/mattermost/mattermost/server/public/plugin"
)

// manifestID must equal "id" in plugin.json (a unit test checks it).
const manifestID = "com.meetbridge.companion"

// Plugin is a face for meetbridge: it holds no meeting logic, only forwards signed requests.
type Plugin struct {
	plugin.MattermostPlugin

	config atomic.Pointer[configuration]
	client *http.Client
	now    func() time.Time
	// publish delivers a WebSocket event to clients (the server API; a fake in tests).
	publish func(event string, payload map[string]any, broadcast *model.WebsocketBroadcast)
}

func newPlugin() *Plugin {
	client := &http.Client{
		Timeout: 15 * time.Second,
		// A redirect would turn the signed POST into a GET elsewhere: report it instead.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	p := &Plugin{client: client, now: time.Now}
	p.config.Store(&configuration{})
	return p
}

func (p *Plugin) configuration() *configuration {
	return p.config.Load()
}

func (p *Plugin) OnActivate() error {
	p.publish = p.API.PublishWebSocketEvent
	return nil
}

// OnConfigurationChange applies valid settings; invalid ones leave the plugin unconfigured
// (its routes answer 503) rather than talking to a URL nobody meant.
func (p *Plugin) OnConfigurationChange() error {
	var loaded configuration
	if err := p.API.LoadPluginConfiguration(&loaded); err != nil {
		p.config.Store(&configuration{})
		return fmt.Errorf("cannot load the plugin settings: %w", err)
	}
	clean, err := loaded.normalised()
	if err != nil {
		p.config.Store(&configuration{})
		return fmt.Errorf("invalid meetbridge settings: %w", err)
	}
	p.config.Store(&clean)
	return nil
}

// ConfigurationWillBeSaved refuses invalid plugin settings before the server stores them, so
// the System Console (and PUT /api/v4/config) shows the reason instead of saving.
func (p *Plugin) ConfigurationWillBeSaved(newCfg *model.Config) (*model.Config, error) {
	settings, found, err := configurationFrom(newCfg)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, nil
	}
	if _, err := settings.normalised(); err != nil {
		return nil, fmt.Errorf("meetbridge plugin: %w", err)
	}
	return nil, nil
}

func main() {
	plugin.ClientMain(newPlugin())
}
