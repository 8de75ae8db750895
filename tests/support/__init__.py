"""Test support: real-component launchers and simulators of systems that cannot run here."""
