// Package deploy holds no code: its tests check the deployment files beside
// them (Prometheus alert rules, the Grafana dashboard, the systemd unit)
// with the real tools, so that `make test` covers them.
package deploy
