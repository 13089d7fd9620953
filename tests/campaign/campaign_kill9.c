// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * campaign_kill9: kill -9 the demo zone server at random moments, restart it,
 * and check after every restart that nothing was lost, duplicated or torn.
 *
 *   campaign_kill9 [--restarts N] [--max-seconds S] [--scale tiny|small]
 *                  [--zone N] [--seed N] [--verbose]
 *   campaign_kill9 server [zone_server options]   (the server, for the children)
 *
 * The server is examples/zone_server.c (its v1 build, linked in), started
 * as a child through /proc/self/exe so one static file is all the VM needs.
 *
 * One round: 1 to 4 "victim" starts, each killed with SIGKILL at a random
 * moment, then one "checker" start and an independent check.
 * - A victim runs `--verify` until it is killed.  The moment is drawn from
 *   the campaign's seeded generator: early (exec, pool open, the library's
 *   repair, the server's own repair), while it populates or verifies, while
 *   it ticks, or at a random crash point inside the library's alloc and free
 *   (SHMDEV_TEST_KILL_AT=N: the library raises SIGKILL there itself).
 * - Every status line a start prints is checked: the start kind must be one
 *   the pool's history allows, repair and verify must find no bad checksum,
 *   no dangling reference, no orphan; the tick counter never goes back (a
 *   completed tick is never lost); a clean resume after a check reports the
 *   counts the check found.
 * - The checker start (`--verify --ticks 0`) repairs what the kills left and
 *   stops cleanly.  Then this program opens the pool read-only and checks it
 *   on its own: shmdev_pool_check(), every checksum, player ids unique and
 *   found under their key, every item owned by exactly the player slot that
 *   names it, item serials unique, scene ids unique and none lost since the
 *   last check, the counts equal to the library's and to the server's, and
 *   the server's journal idle.
 * Now and then the pool is destroyed so that kills land in a cold start's
 * populate too.
 *
 * The seed is printed first; SHMPOOL_TEST_SEED=N replays the same plan (the
 * moments are the same; where a timed kill lands still depends on timing).
 * The last lines are the figures and a Check-style summary.  Exit 0 only if
 * every check passed and the planned number of restarts was reached.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shmdev.h"
#include "zone_tmpl.h"	/* zone_tmpl[]: the server's built-in pool template */
#include "zone_types.h"

int zone_main_v1(int argc, char **argv);

#define LINE_LEN	2048
#define LOG_LEN		6144
#define WORLD_ID	1
#define CHECKER_TIMEOUT_S 600	/* a checker start that hangs is a failure */
/* In the VM bench (SHMPOOL_VM set, no arguments): restarts and scale. */
#define VM_RESTARTS	300	/* 12 to 23 s per kernel here */
#define VM_SCALE	1	/* small */

/* Where the previous start left the pool: which start kinds may come next. */
enum { START_COLD = 1, START_CLEAN = 2, START_CRASH = 4 };

enum moment { M_EARLY, M_MIDDLE, M_TICKS, M_LIBRARY, M_COUNT };
static const char *const moment_name[M_COUNT] = { "early", "middle", "ticks", "library" };

struct opts {
	uint64_t restarts;
	uint64_t max_seconds;
	uint64_t players, items, item_cap, scenes;
	unsigned long zone;
	uint64_t seed;
	const char *scale;
	bool verbose;
};

/* What one start printed. */
struct run {
	const char *role;		/* "victim", "checker" */
	pid_t pid;
	int fd;
	bool eof;
	char buf[65536];
	size_t len;
	char log[LOG_LEN];		/* its last lines, for a failure report */
	size_t log_len;
	uint64_t t_spawn;
	uint64_t t_open, t_verify;	/* when those lines came, 0 if not */
	uint64_t t_kill;		/* when it was killed, 0 if not */
	int start;			/* START_* it reported, 0 if none */
	bool repaired, verified, stopped;
	const char *last_phase;		/* the last phase it printed, "" if none */
	char phase_buf[32];
	uint64_t players, items, scenes, objects;	/* from open/populate/stop */
	uint64_t ticks;
	double ready_us;		/* main() to its open line, as it says */
};

struct campaign {
	struct opts o;
	struct shmdev_ctx *ctx;
	struct shmdev_conf *conf;
	char err_path[128];
	char num[8][32];		/* option values for the children */
	uint64_t rng;
	uint64_t t0;
	int allowed;			/* START_* set for the next start */
	uint64_t ticks_floor;		/* completed ticks: never fewer after a restart */
	bool have_checked;		/* last_* hold the last check's counts */
	uint64_t last_players, last_items, last_scenes;
	bool expect_counts;		/* next start resumes a checked pool */
	uint64_t scene_baseline;	/* scenes since the last cold start's first check, 0 if unknown */
	/* spawn to open line, spawn to verify line: [0] resumes, [1] cold starts */
	double ewma_ready_us[2], ewma_verify_us[2];
	double ewma_main_us[2];		/* spawn to main(): exec and loading */
	/* figures */
	uint64_t restarts, kills, kills_by_moment[M_COUNT];
	uint64_t kills_repair;		/* before the first status line of a crash resume */
	uint64_t kills_library;		/* at a library crash point */
	uint64_t kills_populate, kills_ticking;
	uint64_t starts_by_kind[8];
	uint64_t checks, server_objects, walked_objects, orphans_freed, undone;
	uint64_t lost, dups, failures, cold_starts;
	bool stop;
};

/* ---- small helpers ------------------------------------------------------ */

/* Set by SIGINT/SIGTERM: stop after the current start and still clean up. */
static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t rnd(struct campaign *c)
{
	c->rng ^= c->rng >> 12;
	c->rng ^= c->rng << 25;
	c->rng ^= c->rng >> 27;
	return c->rng * 0x2545f4914f6cdd1dULL;
}

static uint64_t rnd_below(struct campaign *c, uint64_t n)
{
	return n ? rnd(c) % n : 0;
}

static uint64_t rnd_range(struct campaign *c, uint64_t lo, uint64_t hi)
{
	return hi > lo ? lo + rnd_below(c, hi - lo + 1) : lo;
}

static const char *start_names(int set)
{
	static char buf[32];

	snprintf(buf, sizeof(buf), "%s%s%s", set & START_COLD ? "cold " : "",
		 set & START_CLEAN ? "clean " : "", set & START_CRASH ? "crash " : "");
	if (*buf)
		buf[strlen(buf) - 1] = '\0';
	return buf;
}

static void dump_run(const struct run *r)
{
	if (!r)
		return;
	fprintf(stderr, "  %s start (pid %d) printed:\n%.*s", r->role, (int)r->pid,
		(int)r->log_len, r->log);
}

static void dump_stderr(const struct campaign *c)
{
	char line[512];
	FILE *f = fopen(c->err_path, "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		fprintf(stderr, "  stderr: %s", line);
	fclose(f);
}

static void fail(struct campaign *c, const struct run *r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Record a failure, say what and where, and end the campaign. */
static void fail(struct campaign *c, const struct run *r, const char *fmt, ...)
{
	va_list ap;

	if (c->stop)
		return;		/* the first failure is the one to read */
	c->failures++;
	fflush(stdout);
	fprintf(stderr, "campaign_kill9: FAILED at restart %" PRIu64 " (seed %" PRIu64 "): ",
		c->restarts, c->o.seed);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (r) {
		dump_run(r);
		dump_stderr(c);
	}
	c->stop = true;
}

/* ---- the children ------------------------------------------------------- */

static bool is_phase(const char *line, const char *phase)
{
	size_t n = strlen(phase);

	return !strncmp(line, "ZONE phase=", 11) && !strncmp(line + 11, phase, n) &&
	       (line[11 + n] == ' ' || line[11 + n] == '\0');
}

/* The value of KEY= in a status line (up to the next space), or NULL. */
static const char *field(const char *line, const char *key, char *val, size_t size)
{
	size_t n = strlen(key);
	const char *p;

	for (p = line; (p = strstr(p, key)); p++)
		if ((p == line || p[-1] == ' ') && p[n] == '=') {
			p += n + 1;
			snprintf(val, size, "%.*s", (int)strcspn(p, " "), p);
			return val;
		}
	return NULL;
}

/* The number after KEY=; sets *ok to false if there is none. */
static uint64_t num(const char *line, const char *key, bool *ok)
{
	char val[64], *end;
	const char *v = field(line, key, val, sizeof(val));
	uint64_t n;

	if (!v || !*v) {
		*ok = false;
		return 0;
	}
	n = strtoull(v, &end, 10);
	if (*end && *end != '.')
		*ok = false;
	return n;
}

/* Start `server <common options> EXTRA...`; kill_at > 0 arms the library's hook. */
static int spawn(struct campaign *c, struct run *r, const char *role, uint64_t kill_at,
		 uint64_t seed, const char *const *extra)
{
	const char *argv[40];
	char seed_s[32], kill_s[32];
	int fds[2], errfd, n = 0, i;

	memset(r, 0, sizeof(*r));
	r->role = role;
	r->last_phase = "";
	snprintf(seed_s, sizeof(seed_s), "%" PRIu64, seed);
	snprintf(kill_s, sizeof(kill_s), "%" PRIu64, kill_at);
	argv[n++] = "zone_server";
	argv[n++] = "server";
	argv[n++] = "--zone";
	argv[n++] = c->num[0];
	argv[n++] = "--players";
	argv[n++] = c->num[1];
	argv[n++] = "--items";
	argv[n++] = c->num[2];
	argv[n++] = "--item-cap";
	argv[n++] = c->num[3];
	argv[n++] = "--scenes";
	argv[n++] = c->num[4];
	argv[n++] = "--report-ms";
	argv[n++] = "1";
	argv[n++] = "--seed";
	argv[n++] = seed_s;
	argv[n++] = "--verify";
	for (i = 0; extra && extra[i] && n < 38; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;

	errfd = open(c->err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (errfd < 0) {
		fail(c, NULL, "cannot open %s: %s", c->err_path, strerror(errno));
		return -1;
	}
	if (pipe2(fds, O_CLOEXEC)) {
		fail(c, NULL, "pipe2: %s", strerror(errno));
		close(errfd);
		return -1;
	}
	r->t_spawn = mono_ns();
	r->pid = fork();
	if (r->pid < 0) {
		fail(c, NULL, "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		close(errfd);
		return -1;
	}
	if (r->pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		dup2(errfd, STDERR_FILENO);
		signal(SIGPIPE, SIG_DFL);	/* ignored here, not in the server */
		if (kill_at)
			setenv("SHMDEV_TEST_KILL_AT", kill_s, 1);
		execv("/proc/self/exe", (char **)argv);
		fprintf(stderr, "exec /proc/self/exe: %s\n", strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	close(errfd);
	r->fd = fds[0];
	c->restarts++;
	return 0;
}

/* The next line into @line: 1; EOF: 0; @deadline (monotonic ns) passed: -1. */
static int next_line(struct run *r, uint64_t deadline, char *line, size_t size)
{
	for (;;) {
		char *nl = memchr(r->buf, '\n', r->len);
		struct pollfd p = { .fd = r->fd, .events = POLLIN };
		uint64_t now;
		ssize_t got;
		int ms, k;

		if (nl) {
			size_t n = (size_t)(nl - r->buf);

			snprintf(line, size, "%.*s", (int)n, r->buf);
			r->len -= n + 1;
			memmove(r->buf, nl + 1, r->len);
			if (r->log_len + n + 8 >= sizeof(r->log))
				r->log_len = 0;	/* keep the tail only */
			r->log_len += (size_t)snprintf(r->log + r->log_len, sizeof(r->log) - r->log_len,
						       "  | %s\n", line);
			return 1;
		}
		if (r->eof)
			return 0;
		if (r->len == sizeof(r->buf))
			r->len = 0;	/* a line this long is not a status line */
		now = mono_ns();
		if (now >= deadline)
			return -1;
		ms = (int)((deadline - now + 999999) / 1000000);
		k = poll(&p, 1, ms);
		if (k < 0 && errno != EINTR)
			return -1;
		if (k <= 0)
			continue;
		got = read(r->fd, r->buf + r->len, sizeof(r->buf) - r->len);
		if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN))
			r->eof = true;
		else if (got > 0)
			r->len += (size_t)got;
	}
}

/* ---- checking what a start prints --------------------------------------- */

static int start_kind(const char *s)
{
	if (!strcmp(s, "cold"))
		return START_COLD;
	if (!strcmp(s, "clean"))
		return START_CLEAN;
	if (!strcmp(s, "crash"))
		return START_CRASH;
	return 0;
}

static void note_ticks(struct campaign *c, struct run *r, uint64_t ticks)
{
	if (ticks > c->ticks_floor)
		c->ticks_floor = ticks;
	r->ticks = ticks;
}

/* One status line: validate it against the pool's history; false on failure. */
static bool on_line(struct campaign *c, struct run *r, const char *line)
{
	char kind[32];
	bool ok = true;
	uint64_t v;

	if (c->o.verbose)
		printf("    %s: %s\n", r->role, line);
	if (strncmp(line, "ZONE phase=", 11))
		return true;
	snprintf(r->phase_buf, sizeof(r->phase_buf), "%.*s", (int)strcspn(line + 11, " "), line + 11);
	r->last_phase = r->phase_buf;
	if (is_phase(line, "error") || is_phase(line, "corrupt") || is_phase(line, "refused")) {
		fail(c, r, "the %s start reported phase=%s", r->role, r->phase_buf);
		return false;
	}
	if (is_phase(line, "repair")) {
		r->repaired = true;
		if (num(line, "bad_checksums", &ok) || num(line, "dangling", &ok) || !ok) {
			fail(c, r, "the repair after a crash found bad objects");
			return false;
		}
		c->orphans_freed += num(line, "orphans", &ok);
		c->undone += num(line, "undone", &ok);
	} else if (is_phase(line, "open")) {
		r->t_open = mono_ns();
		if (!field(line, "start", kind, sizeof(kind)) || !start_kind(kind)) {
			fail(c, r, "an open line without a start kind");
			return false;
		}
		r->start = start_kind(kind);
		c->starts_by_kind[r->start]++;
		if (!(r->start & c->allowed)) {
			fail(c, r, "start=%s, but after what came before only %s may come", kind,
			     start_names(c->allowed));
			return false;
		}
		if (r->start == START_CRASH && !r->repaired) {
			fail(c, r, "start=crash without a repair line");
			return false;
		}
		if (r->start == START_COLD)
			c->cold_starts++;
		v = num(line, "ticks", &ok);
		r->ready_us = field(line, "ready_us", kind, sizeof(kind)) ? strtod(kind, NULL) : 0;
		r->players = num(line, "players", &ok);
		r->items = num(line, "items", &ok);
		r->scenes = num(line, "scenes", &ok);
		r->objects = num(line, "objects", &ok);
		if (!ok) {
			fail(c, r, "an open line without its counts");
			return false;
		}
		if (r->start != START_COLD && v < c->ticks_floor) {
			fail(c, r, "%" PRIu64 " ticks after the restart, %" PRIu64 " were completed before: completed ticks were lost",
			     v, c->ticks_floor);
			return false;
		}
		if (r->start == START_COLD)
			c->ticks_floor = 0;
		note_ticks(c, r, v);
		if (r->start == START_CLEAN && c->expect_counts &&
		    (r->players != c->last_players || r->items != c->last_items ||
		     r->scenes != c->last_scenes)) {
			fail(c, r, "a clean resume of a checked pool reports %" PRIu64 " players, %" PRIu64
			     " items, %" PRIu64 " scenes; the check found %" PRIu64 ", %" PRIu64 ", %" PRIu64,
			     r->players, r->items, r->scenes, c->last_players, c->last_items, c->last_scenes);
			return false;
		}
		/* Whatever this start does from here on, a kill leaves a crashed pool. */
		c->allowed = START_CRASH;
		c->expect_counts = false;
	} else if (is_phase(line, "populate")) {
		r->players = num(line, "players", &ok);
		r->items = num(line, "items", &ok);
		r->scenes = num(line, "scenes", &ok);
		r->objects = num(line, "objects", &ok);
	} else if (is_phase(line, "verify")) {
		r->t_verify = mono_ns();
		r->verified = true;
		if (num(line, "bad_checksums", &ok) || num(line, "dangling", &ok) ||
		    num(line, "orphans", &ok) || !ok) {
			fail(c, r, "the verify pass found bad objects");
			return false;
		}
		c->server_objects += num(line, "objects", &ok);
	} else if (is_phase(line, "running")) {
		note_ticks(c, r, num(line, "ticks", &ok));
	} else if (is_phase(line, "stop")) {
		r->stopped = true;
		note_ticks(c, r, num(line, "ticks", &ok));
		r->objects = num(line, "objects", &ok);
	}
	if (!ok) {
		fail(c, r, "a phase=%s line without a number it should have", r->phase_buf);
		return false;
	}
	return true;
}

/* Read (and check) what is left after the child died; its wait status. */
static int finish(struct campaign *c, struct run *r, uint64_t deadline)
{
	char line[LINE_LEN];
	int st = 0, k;

	while ((k = next_line(r, deadline, line, sizeof(line))) == 1)
		if (!on_line(c, r, line))
			break;
	if (k < 0) {
		kill(r->pid, SIGKILL);
		fail(c, r, "the %s start did not end", r->role);
	}
	while (waitpid(r->pid, &st, 0) < 0 && errno == EINTR)
		;
	close(r->fd);
	return st;
}

static double ewma(double avg, double x)
{
	return avg ? avg * 0.8 + x * 0.2 : x;
}

/* How long a start takes to its open and verify lines: where to aim kills. */
static void learn(struct campaign *c, const struct run *r, int cold)
{
	double open_us = (double)(r->t_open - r->t_spawn) / 1e3;

	/* A line read only after the kill came later than it was printed. */
	if (r->t_kill && r->t_open > r->t_kill)
		return;
	if (r->t_open) {
		c->ewma_ready_us[cold] = ewma(c->ewma_ready_us[cold], open_us);
		if (r->ready_us > 0 && r->ready_us < open_us)
			c->ewma_main_us[cold] = ewma(c->ewma_main_us[cold], open_us - r->ready_us);
	}
	if (r->t_verify && (!r->t_kill || r->t_verify < r->t_kill))
		c->ewma_verify_us[cold] = ewma(c->ewma_verify_us[cold], (double)(r->t_verify - r->t_spawn) / 1e3);
}

/* ---- one victim: start it, kill it at the planned moment ---------------- */

static void victim(struct campaign *c)
{
	static const char *const extra[] = { NULL };
	char line[LINE_LEN];
	struct run *r = calloc(1, sizeof(*r));
	int before = c->allowed, cold = !!(before & START_COLD), st, k;
	uint64_t pick = rnd_below(c, 100);
	/*
	 * Early kills are the rarest to land where aimed: aim more of them.  A
	 * cold start populates through alloc and force_get: there the library's
	 * crash points are the surest way in.
	 */
	enum moment m = cold ? (pick < 25 ? M_EARLY : pick < 50 ? M_MIDDLE : M_LIBRARY) :
		(pick < 35 ? M_EARLY : pick < 50 ? M_MIDDLE : pick < 75 ? M_TICKS : M_LIBRARY);
	uint64_t delay_us, kill_at = 0, ready = (uint64_t)c->ewma_ready_us[cold],
		 verify = (uint64_t)c->ewma_verify_us[cold], main_us = (uint64_t)c->ewma_main_us[cold];
	bool killed = false;

	if (!r) {
		fail(c, NULL, "out of memory");
		return;
	}
	switch (m) {
	case M_EARLY:	/* in main() before the open line: pool open, the repairs */
		delay_us = rnd_range(c, main_us - main_us / 8, ready + ready / 8);
		break;
	case M_MIDDLE:	/* populate (after a cold start), verify */
		delay_us = rnd_range(c, ready, verify + verify / 4);
		break;
	case M_TICKS:
		delay_us = rnd_range(c, verify, 3 * verify + 2000);
		break;
	default:	/* inside alloc or free: the library kills itself there */
		kill_at = 1 + rnd_below(c, cold ?
					4 * (c->o.players + c->o.items) : 4000);
		delay_us = rnd_range(c, verify, 3 * verify + 2000);
		break;
	}
	if (spawn(c, r, "victim", kill_at, rnd(c), extra))
		goto out;
	for (;;) {
		k = next_line(r, r->t_spawn + delay_us * 1000, line, sizeof(line));
		if (k == 1 && !on_line(c, r, line)) {
			kill(r->pid, SIGKILL);
			finish(c, r, mono_ns() + 10000000000ULL);
			goto out;
		}
		if (k == 0)
			break;		/* it died, or ended, by itself */
		if (k < 0) {
			kill(r->pid, SIGKILL);
			r->t_kill = mono_ns();
			killed = true;
			break;
		}
	}
	st = finish(c, r, mono_ns() + (uint64_t)CHECKER_TIMEOUT_S * 1000000000ULL);
	if (c->stop)
		goto out;
	if (!killed && !(kill_at && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)) {
		fail(c, r, "the victim ended by itself (%s %d)", WIFEXITED(st) ? "exit" : "signal",
		     WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		goto out;
	}
	if (killed && !WIFSIGNALED(st)) {
		fail(c, r, "the victim exited with %d before the kill", WEXITSTATUS(st));
		goto out;
	}
	c->kills++;
	if (!killed) {
		m = M_LIBRARY;
		c->kills_library++;
	} else if (m == M_LIBRARY) {
		m = M_TICKS;	/* the crash point was not reached in time */
	}
	c->kills_by_moment[m]++;
	if (!r->start && (before & START_CRASH) && !(before & ~START_CRASH))
		c->kills_repair++;	/* a crash resume that had not printed its open line */
	if (r->start == START_COLD && !strcmp(r->last_phase, "open"))
		c->kills_populate++;	/* a cold start populates right after its open line */
	if (!strcmp(r->last_phase, "ticking") || !strcmp(r->last_phase, "running"))
		c->kills_ticking++;
	if (!r->start)
		c->allowed = before | START_CRASH;	/* perhaps it never got the pool */
	learn(c, r, cold);
	if (c->o.verbose)
		printf("  victim %d: %s kill%s after %" PRIu64 " us, last phase '%s' (open line at %.0f us)\n",
		       (int)r->pid, moment_name[m], kill_at ? " (crash point armed)" : "", delay_us,
		       r->last_phase, r->t_open ? (double)(r->t_open - r->t_spawn) / 1e3 : -1.0);
out:
	free(r);
}

/* ---- the checker start and the independent check ------------------------ */

struct seen {
	uint8_t *player_ids;		/* by id - PLAYER_ID_BASE */
	uint8_t *scene_ids;
	uint64_t *serials;
	uint64_t *handles;		/* item handles named by players */
	uint64_t nr_serials, nr_handles, cap_items;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Count the values of a sorted array that equal their predecessor. */
static uint64_t sorted_dups(uint64_t *v, uint64_t n)
{
	uint64_t i, d = 0;

	qsort(v, n, sizeof(*v), cmp_u64);
	for (i = 1; i < n; i++)
		d += v[i] == v[i - 1];
	return d;
}

struct walk {
	struct campaign *c;
	struct shmdev_pool *pool;
	struct seen *s;
	const struct zone_state *zs;
	uint64_t count, bad_sums, lost, dups, orphans, bad_ids;
	char first[256];		/* the first problem, for the message */
};

static void problem(struct walk *w, uint64_t *counter, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void problem(struct walk *w, uint64_t *counter, const char *fmt, ...)
{
	va_list ap;

	(*counter)++;
	if (w->first[0])
		return;
	va_start(ap, fmt);
	vsnprintf(w->first, sizeof(w->first), fmt, ap);
	va_end(ap);
}

static int walk_zone(void *obj, shmdev_handle_t h, void *data)
{
	struct walk *w = data;

	(void)h;
	w->count++;
	w->zs = obj;
	return 0;
}

static int walk_player(void *obj, shmdev_handle_t h, void *data)
{
	struct walk *w = data;
	const struct player *p = obj;
	shmdev_handle_t fh;
	uint64_t idx;
	int i;

	w->count++;
	if (!sealed(p, T_PLAYER))
		problem(w, &w->bad_sums, "player %" PRIu64 ": bad checksum", p->id);
	if (p->id <= PLAYER_ID_BASE || p->id > PLAYER_ID_BASE + w->c->o.players) {
		problem(w, &w->bad_ids, "player id %" PRIu64 " is out of range", p->id);
		return 0;
	}
	idx = p->id - PLAYER_ID_BASE;
	if (w->s->player_ids[idx]++)
		problem(w, &w->dups, "player id %" PRIu64 " is there twice", p->id);
	if (!shmdev_find(w->pool, T_PLAYER, p->id, &fh) || fh != h)
		problem(w, &w->lost, "player %" PRIu64 " is not found under its id", p->id);
	for (i = 0; i < ITEMS_PER_PLAYER; i++) {
		const struct item *it;

		if (!p->items[i])
			continue;
		it = shmdev_get(w->pool, p->items[i]);
		if (!it)
			problem(w, &w->lost, "player %" PRIu64 " slot %d names a missing item", p->id, i);
		else if (it->owner != p->id || it->slot != (uint32_t)i)
			problem(w, &w->dups, "player %" PRIu64 " slot %d names an item of player %" PRIu64
				" slot %u", p->id, i, it->owner, it->slot);
		if (w->s->nr_handles < w->s->cap_items)
			w->s->handles[w->s->nr_handles++] = p->items[i];
	}
	return 0;
}

static int walk_item(void *obj, shmdev_handle_t h, void *data)
{
	struct walk *w = data;
	const struct item *it = obj;
	const struct player *p = shmdev_find(w->pool, T_PLAYER, it->owner, NULL);

	w->count++;
	if (!sealed(it, T_ITEM))
		problem(w, &w->bad_sums, "item serial %" PRIu64 ": bad checksum", it->serial);
	if (!p || it->slot >= ITEMS_PER_PLAYER || p->items[it->slot] != h)
		problem(w, &w->orphans, "item serial %" PRIu64 " (player %" PRIu64 " slot %u) is owned by nobody",
			it->serial, it->owner, it->slot);
	if (!it->serial || (w->zs && it->serial > w->zs->item_serial))
		problem(w, &w->bad_ids, "item serial %" PRIu64 " was never handed out", it->serial);
	if (w->s->nr_serials < w->s->cap_items)
		w->s->serials[w->s->nr_serials++] = it->serial;
	return 0;
}

static int walk_scene(void *obj, shmdev_handle_t h, void *data)
{
	struct walk *w = data;
	const struct scene *sc = obj;
	shmdev_handle_t fh;

	w->count++;
	if (!sealed(sc, T_SCENE))
		problem(w, &w->bad_sums, "scene %" PRIu64 ": bad checksum", sc->id);
	if (!sc->id || sc->id > w->c->o.scenes) {
		problem(w, &w->bad_ids, "scene id %" PRIu64 " is out of range", sc->id);
		return 0;
	}
	if (w->s->scene_ids[sc->id]++)
		problem(w, &w->dups, "scene %" PRIu64 " is there twice", sc->id);
	if (!shmdev_find(w->pool, T_SCENE, sc->id, &fh) || fh != h)
		problem(w, &w->lost, "scene %" PRIu64 " is not found under its id", sc->id);
	return 0;
}

/* Open the pool read-only and check everything the server keeps. */
static void check_pool(struct campaign *c, struct run *r)
{
	static const struct { uint16_t type; const char *name; } types[] = {
		{ T_ZONE, "ZoneState" }, { T_PLAYER, "Player" }, { T_ITEM, "Item" }, { T_SCENE, "Scene" },
	};
	struct seen s = { 0 };
	struct walk w = { .c = c, .s = &s };
	struct shmdev_type_stats st;
	struct shmdev_pool *pool = NULL;
	uint64_t live[4] = { 0 }, counted[4] = { 0 }, id, i, n;
	int err;

	s.cap_items = c->o.item_cap + c->o.players * ITEMS_PER_PLAYER;
	s.player_ids = calloc(c->o.players + 1, 1);
	s.scene_ids = calloc(c->o.scenes + 1, 1);
	s.serials = calloc(s.cap_items, sizeof(*s.serials));
	s.handles = calloc(s.cap_items, sizeof(*s.handles));
	if (!s.player_ids || !s.scene_ids || !s.serials || !s.handles) {
		fail(c, r, "out of memory");
		goto out;
	}
	err = shmdev_pool_open(c->ctx, c->conf, NULL, 0, SHMDEV_POOL_RDONLY, &pool);
	if (err) {
		fail(c, r, "read-only open after the checker stopped: %s", shmdev_errmsg(c->ctx));
		goto out;
	}
	err = shmdev_pool_check(pool);
	if (err) {
		fail(c, r, "shmdev_pool_check: %s", shmdev_errmsg(c->ctx));
		goto out;
	}
	for (i = 0; i < 4; i++) {
		if (shmdev_pool_type_stats(pool, types[i].type, &st)) {
			fail(c, r, "type %s is not in the pool: %s", types[i].name, shmdev_errmsg(c->ctx));
			goto out;
		}
		live[i] = st.live_count;
	}
	w.pool = pool;
	err = shmdev_foreach(pool, T_ZONE, walk_zone, &w);
	counted[0] = w.count;
	if (!err && (w.count != 1 || !w.zs || w.zs->magic != ZONE_MAGIC)) {
		fail(c, r, "%" PRIu64 " ZoneState objects, the server keeps exactly one", w.count);
		goto out;
	}
	if (!err && (w.zs->op_state || w.zs->tick_active)) {
		fail(c, r, "after a clean stop the journal is still active (op_state %u, tick %" PRIu64 ")",
		     w.zs->op_state, w.zs->tick_active);
		goto out;
	}
	if (!err && w.zs->ticks != r->ticks) {
		fail(c, r, "the pool holds %" PRIu64 " ticks, the server stopped at %" PRIu64, w.zs->ticks, r->ticks);
		goto out;
	}
	w.count = 0;
	if (!err)
		err = shmdev_foreach(pool, T_PLAYER, walk_player, &w);
	counted[1] = w.count;
	w.count = 0;
	if (!err)
		err = shmdev_foreach(pool, T_ITEM, walk_item, &w);
	counted[2] = w.count;
	w.count = 0;
	if (!err)
		err = shmdev_foreach(pool, T_SCENE, walk_scene, &w);
	counted[3] = w.count;
	if (err) {
		fail(c, r, "shmdev_foreach: %s", shmdev_errmsg(c->ctx));
		goto out;
	}
	/* The other way round: every key the index knows was walked. */
	for (id = 1; id <= c->o.players; id++)
		if (!s.player_ids[id] && shmdev_find(pool, T_PLAYER, PLAYER_ID_BASE + id, NULL))
			problem(&w, &w.dups, "the index finds player %" PRIu64 ", the walk did not",
				PLAYER_ID_BASE + id);
	for (id = 1; id <= c->o.scenes; id++)
		if (!s.scene_ids[id] && shmdev_find(pool, T_SCENE, id, NULL))
			problem(&w, &w.dups, "the index finds scene %" PRIu64 ", the walk did not", id);
	n = sorted_dups(s.serials, s.nr_serials);
	if (n)
		problem(&w, &w.dups, "%" PRIu64 " item serials are there twice", n);
	n = sorted_dups(s.handles, s.nr_handles);
	if (n)
		problem(&w, &w.dups, "%" PRIu64 " items are named by two player slots", n);
	for (i = 0; i < 4; i++)
		if (live[i] != counted[i]) {
			if (live[i] > counted[i])
				w.lost += live[i] - counted[i];
			else
				w.dups += counted[i] - live[i];
			problem(&w, &w.bad_ids, "%s: the library counts %" PRIu64 " live, the walk found %" PRIu64,
				types[i].name, live[i], counted[i]);
		}
	if (counted[1] != r->players || counted[2] != r->items || counted[3] != r->scenes ||
	    counted[1] + counted[2] + counted[3] != r->objects) {
		if (counted[1] + counted[2] + counted[3] < r->objects)
			w.lost += r->objects - (counted[1] + counted[2] + counted[3]);
		problem(&w, &w.bad_ids, "the server reported %" PRIu64 " objects (%" PRIu64 " players, %" PRIu64
			" items, %" PRIu64 " scenes), the walk found %" PRIu64 ", %" PRIu64 ", %" PRIu64,
			r->objects, r->players, r->items, r->scenes, counted[1], counted[2], counted[3]);
	}
	/* Scenes are never removed once the first check after a cold start saw them. */
	if (c->scene_baseline && counted[3] != c->scene_baseline) {
		if (counted[3] < c->scene_baseline)
			w.lost += c->scene_baseline - counted[3];
		problem(&w, &w.bad_ids, "%" PRIu64 " scenes, there were %" PRIu64 " since the cold start",
			counted[3], c->scene_baseline);
	}
	c->walked_objects += counted[0] + counted[1] + counted[2] + counted[3];
	c->lost += w.lost;
	c->dups += w.dups;
	if (w.first[0]) {
		fail(c, r, "independent check: %s (%" PRIu64 " bad checksums, %" PRIu64 " lost, %" PRIu64
		     " duplicated, %" PRIu64 " orphans, %" PRIu64 " other)", w.first, w.bad_sums, w.lost,
		     w.dups, w.orphans, w.bad_ids);
		goto out;
	}
	c->checks++;
	c->have_checked = true;
	c->last_players = counted[1];
	c->last_items = counted[2];
	c->last_scenes = counted[3];
	c->expect_counts = true;
	if (!c->scene_baseline)
		c->scene_baseline = counted[3];
out:
	if (pool)
		shmdev_pool_abandon(pool);	/* read-only: there is nothing to mark */
	free(s.player_ids);
	free(s.scene_ids);
	free(s.serials);
	free(s.handles);
}

/* Start the server to repair what the kills left, stop it cleanly, check. */
static void checker(struct campaign *c)
{
	static const char *const extra[] = { "--ticks", "0", NULL };
	struct run *r = calloc(1, sizeof(*r));
	int cold = !!(c->allowed & START_COLD), st;

	if (!r) {
		fail(c, NULL, "out of memory");
		return;
	}
	if (spawn(c, r, "checker", 0, rnd(c), extra))
		goto out;
	st = finish(c, r, mono_ns() + (uint64_t)CHECKER_TIMEOUT_S * 1000000000ULL);
	if (c->stop)
		goto out;
	if (!WIFEXITED(st) || WEXITSTATUS(st) || !r->stopped || !r->verified) {
		fail(c, r, "the checker start %s %d%s", WIFEXITED(st) ? "exited with" : "died of signal",
		     WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
		     r->stopped ? "" : " without a clean stop");
		goto out;
	}
	learn(c, r, cold);
	c->allowed = START_CLEAN;
	check_pool(c, r);
out:
	free(r);
}

static int destroy_pool(struct campaign *c)
{
	int err = shmdev_pool_destroy(c->ctx, c->conf);

	if (err && err != -ENOENT) {
		fail(c, NULL, "destroying the pool: %s", shmdev_errmsg(c->ctx));
		return err;
	}
	c->allowed = START_COLD;
	c->scene_baseline = 0;
	c->expect_counts = false;
	c->ticks_floor = 0;
	return 0;
}

/* ---- set-up and the loop ------------------------------------------------ */

static int load_conf(struct campaign *c)
{
	char world[48], zone[48], *rendered = NULL;
	const char *vars[2] = { world, zone };
	int err;

	snprintf(world, sizeof(world), "WORLD_ID=%d", WORLD_ID);
	snprintf(zone, sizeof(zone), "ZONE_ID=%lu", c->o.zone);
	err = shmdev_template_render(c->ctx, zone_tmpl, "zone.ini.tmpl (built in)", vars, 2, &rendered);
	if (!err)
		err = shmdev_conf_load_string(c->ctx, rendered, "zone.ini (built in)", "zone", &c->conf);
	free(rendered);
	if (err)
		fprintf(stderr, "campaign_kill9: the zone config: %s\n", shmdev_errmsg(c->ctx));
	return err;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: campaign_kill9 [OPTION]...\n"
		"kill -9 the demo zone server at random moments; check the pool after every restart.\n\n"
		"  --restarts N      server starts to make (default 1000; 300 in the VM)\n"
		"  --max-seconds N   give up after N seconds (default 600)\n"
		"  --scale S         object counts: tiny (200 players, 500 items), small (1000,\n"
		"                    3000; in the VM) or medium (20000, 60000; the default)\n"
		"Environment: SHMPOOL_TEST_SEED, SHMPOOL_CAMPAIGN_RESTARTS, SHMPOOL_CAMPAIGN_SCALE\n"
		"(defaults that options override), SHMDEV_BACKEND, SHMDEV_POSIX_PREFIX.\n"
		"  --zone N          ZONE_ID of the pool (default 960)\n"
		"  --seed N          the campaign's seed (default: SHMPOOL_TEST_SEED, else the time)\n"
		"  --verbose         print every status line and every kill\n"
		"       campaign_kill9 server [zone_server options]   one start of the server\n");
}

/* Object counts: players, items handed out on a cold start, item capacity, scenes. */
static const struct scale {
	const char *name;
	uint64_t players, items, item_cap, scenes;
} scales[] = {
	{ "tiny", 200, 500, 800, 20 },
	{ "small", 1000, 3000, 4000, 50 },
	{ "medium", 20000, 60000, 80000, 200 },
};

static int parse_args(int argc, char **argv, struct opts *o)
{
	const char *env = getenv("SHMPOOL_TEST_SEED");
	const char *env_restarts = getenv("SHMPOOL_CAMPAIGN_RESTARTS");
	const char *env_scale = getenv("SHMPOOL_CAMPAIGN_SCALE");
	bool vm = getenv("SHMPOOL_VM") != NULL;
	const struct scale *sc = &scales[vm ? VM_SCALE : 2];
	size_t k;
	int i;

	*o = (struct opts){ .restarts = vm ? VM_RESTARTS : 1000, .max_seconds = 600, .zone = 960 };
	o->seed = env && *env ? strtoull(env, NULL, 0) : (mono_ns() ^ ((uint64_t)getpid() << 32));
	/* The VM bench passes no arguments: SHMPOOL_VM_ENV can set these. */
	if (env_restarts && *env_restarts)
		o->restarts = strtoull(env_restarts, NULL, 0);
	for (k = 0; env_scale && k < sizeof(scales) / sizeof(scales[0]); k++)
		if (!strcmp(env_scale, scales[k].name))
			sc = &scales[k];
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end = NULL;
		uint64_t n = v ? strtoull(v, &end, 0) : 0;
		bool numeric = v && *v && end && !*end;

		if (!strcmp(a, "--verbose")) {
			o->verbose = true;
			continue;
		}
		if (!strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		}
		if (!strcmp(a, "--scale") && v) {
			for (k = 0; k < sizeof(scales) / sizeof(scales[0]); k++)
				if (!strcmp(v, scales[k].name))
					sc = &scales[k];
			if (strcmp(v, sc->name)) {
				fprintf(stderr, "campaign_kill9: --scale: '%s' is not tiny, small or medium\n", v);
				return -EINVAL;
			}
			i++;
			continue;
		}
		if (!numeric || (n == 0 && strcmp(a, "--seed"))) {
			fprintf(stderr, "campaign_kill9: bad option '%s%s%s'\n", a, v ? " " : "", v ? v : "");
			usage(stderr);
			return -EINVAL;
		}
		if (!strcmp(a, "--restarts"))
			o->restarts = n;
		else if (!strcmp(a, "--max-seconds"))
			o->max_seconds = n;
		else if (!strcmp(a, "--zone"))
			o->zone = (unsigned long)n;
		else if (!strcmp(a, "--seed"))
			o->seed = n;
		else {
			fprintf(stderr, "campaign_kill9: unknown option '%s'\n", a);
			usage(stderr);
			return -EINVAL;
		}
		i++;
	}
	o->scale = sc->name;
	o->players = sc->players;
	o->items = sc->items;
	o->item_cap = sc->item_cap;
	o->scenes = sc->scenes;
	return 0;
}

int main(int argc, char **argv)
{
	struct campaign *c;
	const char *tmp = getenv("TMPDIR");
	char prefix[64];
	uint64_t rounds = 0;
	double secs;
	int rc;

	if (argc > 1 && !strcmp(argv[1], "server"))
		return zone_main_v1(argc - 1, argv + 1);
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* A closed stdout (| head) or ^C must not skip destroying the pool. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_interrupt);
	signal(SIGTERM, on_interrupt);
	c = calloc(1, sizeof(*c));
	if (!c)
		return 1;
	if (parse_args(argc, argv, &c->o)) {
		free(c);
		return 2;
	}
	c->rng = c->o.seed ? c->o.seed : 1;
	c->t0 = mono_ns();
	c->allowed = START_COLD;
	c->ewma_ready_us[0] = c->ewma_ready_us[1] = 2000;
	c->ewma_verify_us[0] = c->ewma_verify_us[1] = 4000;
	/* The library's kill hook is for the victims only. */
	unsetenv("SHMDEV_TEST_KILL_AT");
	if (!getenv("SHMDEV_POSIX_PREFIX")) {
		snprintf(prefix, sizeof(prefix), "shmpool-campaign.%d", (int)getpid());
		setenv("SHMDEV_POSIX_PREFIX", prefix, 1);
	}
	snprintf(c->err_path, sizeof(c->err_path), "%s/campaign_kill9.%d.stderr",
		 tmp && *tmp ? tmp : "/tmp", (int)getpid());
	snprintf(c->num[0], sizeof(c->num[0]), "%lu", c->o.zone);
	snprintf(c->num[1], sizeof(c->num[1]), "%" PRIu64, c->o.players);
	snprintf(c->num[2], sizeof(c->num[2]), "%" PRIu64, c->o.items);
	snprintf(c->num[3], sizeof(c->num[3]), "%" PRIu64, c->o.item_cap);
	snprintf(c->num[4], sizeof(c->num[4]), "%" PRIu64, c->o.scenes);

	printf("campaign_kill9: seed %" PRIu64 " (SHMPOOL_TEST_SEED=%" PRIu64 " replays this plan); "
	       "%" PRIu64 " restarts in at most %" PRIu64 " s; zone %lu, scale %s: %" PRIu64 " players, %" PRIu64
	       " items, %" PRIu64 " scenes; backend %s\n", c->o.seed, c->o.seed, c->o.restarts,
	       c->o.max_seconds, c->o.zone, c->o.scale, c->o.players, c->o.items, c->o.scenes,
	       getenv("SHMDEV_BACKEND") ? getenv("SHMDEV_BACKEND") :
	       access("/dev/shmpool", F_OK) ? "auto (no /dev/shmpool: posix)" : "auto (/dev/shmpool)");
	if (shmdev_ctx_new(&c->ctx)) {
		fprintf(stderr, "campaign_kill9: shmdev_ctx_new failed\n");
		free(c);
		return 1;
	}
	/* Failures are reported with shmdev_errmsg(); the log would only repeat them. */
	shmdev_set_log_priority(c->ctx, 0);
	if (load_conf(c) || destroy_pool(c))
		goto summary;

	while (!c->stop && !interrupted && c->restarts < c->o.restarts &&
	       mono_ns() - c->t0 < c->o.max_seconds * 1000000000ULL) {
		uint64_t n = 1 + rnd_below(c, 4), i;

		for (i = 0; i < n && !c->stop; i++)
			victim(c);
		if (!c->stop)
			checker(c);
		rounds++;
		/* Now and then a cold start, so that kills land in populate too. */
		if (!c->stop && rnd_below(c, 6) == 0)
			destroy_pool(c);
		if (c->o.verbose || rounds % 50 == 0)
			printf("campaign_kill9: %" PRIu64 " restarts, %" PRIu64 " kills, %" PRIu64
			       " checks, %.1f s\n", c->restarts, c->kills, c->checks,
			       (double)(mono_ns() - c->t0) / 1e9);
	}
	if (interrupted)
		fail(c, NULL, "interrupted");
	if (!c->stop && c->restarts < c->o.restarts)
		fail(c, NULL, "only %" PRIu64 " of %" PRIu64 " restarts in %" PRIu64 " s",
		     c->restarts, c->o.restarts, c->o.max_seconds);
summary:
	/* Leave nothing behind (in the VM, rmmod must succeed after us). */
	if (c->conf) {
		int err = shmdev_pool_destroy(c->ctx, c->conf);

		if (err && err != -ENOENT)
			fail(c, NULL, "destroying the pool at the end: %s", shmdev_errmsg(c->ctx));
	}
	secs = (double)(mono_ns() - c->t0) / 1e9;
	printf("campaign_kill9: restarts=%" PRIu64 " kills=%" PRIu64 " kills_in_library_or_repair=%" PRIu64
	       " (at crash points in alloc/free %" PRIu64 ", in a crash resume before its open line %" PRIu64 ")"
	       " kills_in_populate=%" PRIu64 " kills_while_ticking=%" PRIu64
	       " planned=early:%" PRIu64 ",middle:%" PRIu64 ",ticks:%" PRIu64 ",library:%" PRIu64
	       " starts=cold:%" PRIu64 ",clean:%" PRIu64 ",crash:%" PRIu64
	       " checks=%" PRIu64 " objects_checked=%" PRIu64 " (server verify %" PRIu64
	       ", independent walk %" PRIu64 ") orphans_freed=%" PRIu64 " undone=%" PRIu64
	       " objects_lost=%" PRIu64 " duplicates=%" PRIu64 " failures=%" PRIu64
	       " seed=%" PRIu64 " seconds=%.1f\n",
	       c->restarts, c->kills, c->kills_library + c->kills_repair, c->kills_library,
	       c->kills_repair, c->kills_populate, c->kills_ticking,
	       c->kills_by_moment[M_EARLY], c->kills_by_moment[M_MIDDLE],
	       c->kills_by_moment[M_TICKS], c->kills_by_moment[M_LIBRARY],
	       c->starts_by_kind[START_COLD], c->starts_by_kind[START_CLEAN],
	       c->starts_by_kind[START_CRASH], c->checks,
	       c->server_objects + c->walked_objects, c->server_objects, c->walked_objects,
	       c->orphans_freed, c->undone, c->lost, c->dups, c->failures, c->o.seed, secs);
	/* Check-style, so the VM bench counts it with the other runners. */
	printf("%d%%: Checks: %" PRIu64 ", Failures: %" PRIu64 ", Errors: 0\n",
	       c->failures ? 0 : 100, c->restarts + c->checks, c->failures);
	if (c->o.verbose)
		printf("campaign_kill9: start to main/open/verify line: resume %.0f/%.0f/%.0f us, cold %.0f/%.0f/%.0f us\n",
		       c->ewma_main_us[0], c->ewma_ready_us[0], c->ewma_verify_us[0],
		       c->ewma_main_us[1], c->ewma_ready_us[1], c->ewma_verify_us[1]);
	rc = c->failures ? 1 : 0;
	unlink(c->err_path);
	shmdev_conf_free(c->conf);
	shmdev_ctx_unref(c->ctx);
	free(c);
	return rc;
}
