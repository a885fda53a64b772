// Package loadrun is what ClustroPG's load programs (bot/slashload,
// server/bodyload, cmd/clustro-load) share to take a measurement against a
// real `clustro serve`: the serve child process (started on a free local
// port, awaited on /healthz, stopped with SIGTERM), its memory as
// /proc/<pid>/status reports it, the SQLite store seeded before serve
// opens it, the settings that turn the GitHub webhook on, and a line
// describing the machine the figures were taken on. Linux only, as the
// programs are.
package loadrun
