// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * zone_demo: the hot-restart story of `make demo`, and the three builds of
 * zone_server in one binary, so that one static file is all the VM needs.
 *
 *   zone_demo story [--small|--full] [--zone N]   run the story
 *   zone_demo                                     the story, small (as the
 *                                                 VM test runner calls it)
 *   zone_demo v1|v2|grown|kind [zone_server options]   one build of the server
 *
 * The story starts the server builds as child processes (this binary again,
 * through /proc/self/exe), reads their "ZONE phase=..." lines, kills them
 * and checks what each start reports.  It prints one progress line per
 * step and exits 0 only if every step showed what it should.
 * ZONE_DEMO_SCALE=small|full in the environment overrides the scale.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int zone_main_v1(int argc, char **argv);
int zone_main_v2(int argc, char **argv);
int zone_main_grown(int argc, char **argv);
int zone_main_kind(int argc, char **argv);

#define PHASE_TIMEOUT_MS	300000	/* software-emulated VMs are slow */
#define LINE_MAX_LEN		2048
#define MAX_ARGS		40

struct child {
	const char *what;		/* for messages: "v1 --verify" */
	pid_t pid;
	int out;			/* its stdout */
	char err_path[96];		/* its stderr */
	char buf[16384];
	size_t len;
	char line[LINE_MAX_LEN];
	char log[8192];			/* its lines so far, for failures */
	size_t log_len;
};

struct story {
	const char *scale;
	char zone[16];
	char tmpdir[64];
	const char *args[MAX_ARGS];	/* options every start gets */
	int nargs;
	unsigned int min_ticks;
	struct child kid;
	uint64_t t0;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

static void dump_child(const struct child *c)
{
	char line[512];
	FILE *f;

	if (!c->what)
		return;
	fprintf(stderr, "  server `%s` printed:\n", c->what);
	fprintf(stderr, "%.*s", (int)c->log_len, c->log);
	f = fopen(c->err_path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		fprintf(stderr, "  stderr: %s", line);
	fclose(f);
}

static void die(struct story *s, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

static void die(struct story *s, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "zone_demo: FAILED: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	dump_child(&s->kid);
	if (s->kid.pid > 0) {
		kill(s->kid.pid, SIGKILL);
		waitpid(s->kid.pid, NULL, 0);
	}
	exit(1);
}

/* Start `zone_demo VARIANT <common options> EXTRA...` with its stdout piped. */
static void spawn(struct story *s, const char *variant, const char *extra, ...)
{
	struct child *c = &s->kid;
	const char *argv[MAX_ARGS + 8];
	static char what[128];
	int fds[2], n = 0, errfd, i;
	const char *a;
	va_list ap;

	memset(c, 0, sizeof(*c));
	snprintf(what, sizeof(what), "%s", variant);
	argv[n++] = "zone_server";
	argv[n++] = variant;
	for (i = 0; i < s->nargs; i++)
		argv[n++] = s->args[i];
	va_start(ap, extra);
	for (a = extra; a && n < MAX_ARGS + 6; a = va_arg(ap, const char *)) {
		argv[n++] = a;
		strncat(what, " ", sizeof(what) - strlen(what) - 1);
		strncat(what, a, sizeof(what) - strlen(what) - 1);
	}
	va_end(ap);
	argv[n] = NULL;
	c->what = what;
	snprintf(c->err_path, sizeof(c->err_path), "%s/stderr", s->tmpdir);
	errfd = open(c->err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (errfd < 0 || pipe2(fds, O_CLOEXEC))
		die(s, "cannot set up a child: %s", strerror(errno));
	c->pid = fork();
	if (c->pid < 0)
		die(s, "fork: %s", strerror(errno));
	if (c->pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		dup2(errfd, STDERR_FILENO);
		execv("/proc/self/exe", (char **)argv);
		fprintf(stderr, "exec /proc/self/exe: %s\n", strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	close(errfd);
	c->out = fds[0];
}

/* The next line of the child's stdout into c->line; false at EOF. */
static bool next_line(struct story *s)
{
	struct child *c = &s->kid;
	uint64_t deadline = mono_ms() + PHASE_TIMEOUT_MS;

	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		struct pollfd p = { .fd = c->out, .events = POLLIN };
		ssize_t r;
		uint64_t now;

		if (nl) {
			size_t n = (size_t)(nl - c->buf);

			if (n >= sizeof(c->line))
				n = sizeof(c->line) - 1;
			memcpy(c->line, c->buf, n);
			c->line[n] = '\0';
			c->len -= (size_t)(nl - c->buf) + 1;
			memmove(c->buf, nl + 1, c->len);
			c->log_len += (size_t)snprintf(c->log + c->log_len,
						       sizeof(c->log) - c->log_len, "  | %s\n", c->line);
			if (c->log_len >= sizeof(c->log))
				c->log_len = 0;	/* keep the tail only */
			return true;
		}
		if (c->len == sizeof(c->buf))
			die(s, "a line longer than %zu bytes", sizeof(c->buf));
		now = mono_ms();
		if (now >= deadline)
			die(s, "`%s` printed nothing for %d s", c->what, PHASE_TIMEOUT_MS / 1000);
		r = poll(&p, 1, (int)(deadline - now));
		if (r < 0 && errno != EINTR)
			die(s, "poll: %s", strerror(errno));
		if (r <= 0)
			continue;
		r = read(c->out, c->buf + c->len, sizeof(c->buf) - c->len);
		if (r < 0 && errno != EINTR)
			die(s, "read: %s", strerror(errno));
		if (r == 0)
			return false;
		if (r > 0)
			c->len += (size_t)r;
	}
}

static bool is_phase(const char *line, const char *phase)
{
	size_t n = strlen(phase);

	return !strncmp(line, "ZONE phase=", 11) && !strncmp(line + 11, phase, n) &&
	       (line[11 + n] == ' ' || line[11 + n] == '\0');
}

/* Read lines until "ZONE phase=@phase"; any failure line or EOF first dies. */
static const char *wait_phase(struct story *s, const char *phase)
{
	static const char *const bad[] = { "error", "refused", "corrupt" };
	size_t i;

	while (next_line(s)) {
		if (is_phase(s->kid.line, phase))
			return s->kid.line;
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			if (is_phase(s->kid.line, bad[i]))
				die(s, "`%s` reported phase=%s", s->kid.what, bad[i]);
	}
	die(s, "`%s` ended before phase=%s", s->kid.what, phase);
}

/* The value of KEY= in a status line (up to the next space), or "". */
static const char *field(const char *line, const char *key)
{
	static char val[LINE_MAX_LEN];
	size_t n = strlen(key), k;
	const char *p;

	for (p = line; (p = strstr(p, key)); p++) {
		if ((p == line || p[-1] == ' ') && p[n] == '=') {
			p += n + 1;
			if (!strcmp(key, "error")) {
				snprintf(val, sizeof(val), "%s", p);
				return val;
			}
			k = strcspn(p, " ");
			snprintf(val, sizeof(val), "%.*s", (int)k, p);
			return val;
		}
	}
	val[0] = '\0';
	return val;
}

static double num(const char *line, const char *key)
{
	return strtod(field(line, key), NULL);
}

static unsigned long long cnt(const char *line, const char *key)
{
	return strtoull(field(line, key), NULL, 10);
}

static void expect(struct story *s, const char *line, const char *key, const char *want)
{
	const char *v = field(line, key);

	if (strcmp(v, want))
		die(s, "`%s`: %s=%s, expected %s", s->kid.what, key, v, want);
}

/* Wait for the child to end; its exit status, or 128 + signal. */
static int reap(struct story *s)
{
	struct child *c = &s->kid;
	int st;

	while (next_line(s))
		;
	if (waitpid(c->pid, &st, 0) < 0)
		die(s, "waitpid: %s", strerror(errno));
	close(c->out);
	c->pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void expect_exit(struct story *s, int want)
{
	int rc = reap(s);

	if (rc != want)
		die(s, "`%s` exited with %d, expected %d", s->kid.what, rc, want);
}

static void add_arg(struct story *s, const char *a)
{
	if (s->nargs < MAX_ARGS)
		s->args[s->nargs++] = a;
}

static const char *backend_label(void)
{
	const char *b = getenv("SHMDEV_BACKEND");

	if (b && !strcmp(b, "posix"))
		return "POSIX shm fallback";
	if (access("/dev/shmpool", F_OK) == 0)
		return "/dev/shmpool";
	return "POSIX shm fallback (no /dev/shmpool)";
}

static int story(int argc, char **argv, bool no_args)
{
	struct story s = { .scale = no_args ? "small" : "full", .t0 = mono_ms() };
	char buf[LINE_MAX_LEN], line[LINE_MAX_LEN], inflight[64];
	unsigned long long objects, players, ticks;
	const char *env = getenv("ZONE_DEMO_SCALE"), *tmp = getenv("TMPDIR");
	struct utsname u;
	int i;

	snprintf(s.zone, sizeof(s.zone), "900");
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--small"))
			s.scale = "small";
		else if (!strcmp(argv[i], "--full"))
			s.scale = "full";
		else if (!strcmp(argv[i], "--zone") && i + 1 < argc)
			snprintf(s.zone, sizeof(s.zone), "%s", argv[++i]);
		else {
			fprintf(stderr, "usage: zone_demo story [--small|--full] [--zone N]\n");
			return 2;
		}
	}
	if (env && (!strcmp(env, "small") || !strcmp(env, "full")))
		s.scale = env;
	snprintf(s.tmpdir, sizeof(s.tmpdir), "%s/zone_demo.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (strlen(s.tmpdir) >= sizeof(s.tmpdir) - 1 || !mkdtemp(s.tmpdir))
		die(&s, "cannot make a temporary directory under %s", tmp ? tmp : "/tmp");

	add_arg(&s, "--zone");
	add_arg(&s, s.zone);
	add_arg(&s, "--report-ms");
	add_arg(&s, "200");
	if (!strcmp(s.scale, "small")) {
		static const char *const small[] = { "--players", "2000", "--items", "5000",
			"--item-cap", "6000", "--scenes", "50", "--guilds", "40" };

		for (i = 0; i < (int)(sizeof(small) / sizeof(small[0])); i++)
			add_arg(&s, small[i]);
		s.min_ticks = 5;
	} else {
		s.min_ticks = 20;	/* server defaults: 100k players, 250k items */
	}
	uname(&u);
	say("zone_demo: the hot-restart story on %s (%s %s), scale %s", backend_label(),
	    u.sysname, u.release, s.scale);

	/* 0. leftovers of an earlier run */
	spawn(&s, "v1", "--destroy", NULL);
	wait_phase(&s, "destroyed");
	expect_exit(&s, 0);

	/* 1. cold start, populate, tick */
	spawn(&s, "v1", NULL);
	snprintf(line, sizeof(line), "%s", wait_phase(&s, "open"));
	expect(&s, line, "start", "cold");
	snprintf(buf, sizeof(buf), "%s", wait_phase(&s, "populate"));
	objects = cnt(buf, "objects");
	{
		char ticking[LINE_MAX_LEN];
		const char *run;

		snprintf(ticking, sizeof(ticking), "%s", wait_phase(&s, "ticking"));
		do
			run = wait_phase(&s, "running");
		while (cnt(run, "ticks") < s.min_ticks);
		ticks = cnt(run, "ticks");
		say("[1/8] cold start: pool created in %.0f µs; populated %llu objects (%llu players, "
		    "%llu items, %llu scenes) in %.0f ms; ticking: %llu changes per tick (%.1f%% of "
		    "the objects), %.0f µs per tick, %llu ticks so far",
		    num(line, "open_us"), objects, cnt(buf, "players"), cnt(buf, "items"),
		    cnt(buf, "scenes"), num(buf, "ms"), cnt(ticking, "ops_per_tick"),
		    100.0 * (double)cnt(ticking, "ops_per_tick") / (double)objects,
		    num(run, "tick_us"), ticks);
	}

	/* 2. kill -9 while it ticks (back to back: it is nearly always mid-tick) */
	{
		struct timespec ts = { 0, (long)(50 + (mono_ms() * 7919) % 100) * 1000000L };
		pid_t pid = s.kid.pid;

		/* Not right after its status line: it would be between ticks then. */
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		expect_exit(&s, 128 + SIGKILL);
		say("[2/8] kill -9 while ticking (pid %d, after at least %llu ticks)", (int)pid, ticks);
	}

	/* 3. restart after the crash: repair, every checksum checked */
	spawn(&s, "v1", "--verify", NULL);
	snprintf(buf, sizeof(buf), "%s", wait_phase(&s, "repair"));
	snprintf(line, sizeof(line), "%s", wait_phase(&s, "open"));
	expect(&s, line, "start", "crash");
	if (cnt(buf, "bad_checksums") || cnt(buf, "dangling"))
		die(&s, "the repair left bad objects");
	{
		const char *v = wait_phase(&s, "verify");

		if (cnt(v, "bad_checksums") || cnt(v, "dangling") || cnt(v, "orphans"))
			die(&s, "the verify pass found bad objects");
	}
	say("[3/8] resumed after crash: %llu objects, repaired in %.1f ms, all checksums match",
	    cnt(buf, "objects"), num(buf, "repair_ms"));
	snprintf(inflight, sizeof(inflight), "%s", field(buf, "inflight"));
	if (!strcmp(inflight, "none"))
		snprintf(inflight, sizeof(inflight), "no change in flight");
	else if (!strcmp(inflight, "logout"))
		snprintf(inflight, sizeof(inflight), "a logout in flight (finished)");
	else
		snprintf(inflight, sizeof(inflight), "an %s in flight%s", field(buf, "inflight"),
			 cnt(buf, "undone") ? " (undone)" : "");
	if (cnt(buf, "crashed_tick"))
		say("      the kill hit tick %llu at change %llu of %llu, %s; %llu orphan item%s "
		    "freed; the library rebuilt its lists and indexes over %llu objects in %.1f ms; "
		    "ready %.1f ms after process start",
		    cnt(buf, "crashed_tick"), cnt(buf, "crashed_op") + 1, cnt(buf, "ops_per_tick"),
		    inflight, cnt(buf, "orphans"), cnt(buf, "orphans") == 1 ? " was" : "s were",
		    cnt(buf, "lib_objects"), num(buf, "lib_repair_ms"), num(line, "ready_us") / 1e3);
	else
		say("      the kill came between two ticks; the library rebuilt its lists and "
		    "indexes over %llu objects in %.1f ms", cnt(buf, "lib_objects"),
		    num(buf, "lib_repair_ms"));
	objects = cnt(line, "objects");

	/* 4. SIGTERM, then a clean resume */
	{
		const char *run;

		do
			run = wait_phase(&s, "running");
		while (cnt(run, "ticks") < ticks + s.min_ticks);
	}
	kill(s.kid.pid, SIGTERM);
	snprintf(buf, sizeof(buf), "%s", wait_phase(&s, "stop"));
	expect_exit(&s, 0);
	spawn(&s, "v1", "--verify", "--ticks", "10", NULL);
	snprintf(line, sizeof(line), "%s", wait_phase(&s, "open"));
	expect(&s, line, "start", "clean");
	wait_phase(&s, "verify");
	objects = cnt(wait_phase(&s, "stop"), "objects");
	expect_exit(&s, 0);
	say("[4/8] SIGTERM: clean stop at tick %llu (close %.0f µs); restart: resumed clean in "
	    "%.0f µs (pool open %.0f µs), %llu objects, all checksums match",
	    cnt(buf, "ticks"), num(buf, "close_us"), num(line, "ready_us"), num(line, "open_us"),
	    cnt(line, "objects"));

	/* 5. a build that adds a type */
	spawn(&s, "v2", "--verify", "--ticks", "10", NULL);
	snprintf(line, sizeof(line), "%s", wait_phase(&s, "open"));
	expect(&s, line, "start", "clean");
	expect(&s, line, "build", "v2");
	if (cnt(line, "objects") != objects)
		die(&s, "v2 resumed %llu objects, v1 left %llu", cnt(line, "objects"), objects);
	snprintf(buf, sizeof(buf), "%s", wait_phase(&s, "populate"));
	wait_phase(&s, "verify");
	objects = cnt(wait_phase(&s, "stop"), "objects");
	expect_exit(&s, 0);
	say("[5/8] new build v2 adds the type Guild: resumed clean in %.0f µs with all %llu "
	    "objects, carved Guild and created %llu guilds, ran 10 ticks",
	    num(line, "ready_us"), cnt(line, "objects"), cnt(buf, "guilds"));

	/* 6. a build that changes a Player field's kind, no converter: refused, pool untouched */
	spawn(&s, "kind", "--ticks", "1", NULL);
	while (next_line(&s) && !is_phase(s.kid.line, "refused"))
		if (is_phase(s.kid.line, "open"))
			die(&s, "the kind-changing build was not refused");
	if (!is_phase(s.kid.line, "refused"))
		die(&s, "the kind-changing build ended without phase=refused");
	snprintf(buf, sizeof(buf), "%s", s.kid.line);
	expect_exit(&s, 3);
	if (!strstr(buf, "field \"hp\" was uint of 4 bytes, now float of 4 bytes"))
		die(&s, "the refusal does not name the field and both kinds: %s", buf);
	say("[6/8] build with Player.hp changed from uint32 to float, no converter: resume refused: %s",
	    field(buf, "error"));
	spawn(&s, "v2", "--verify", "--ticks", "0", NULL);
	snprintf(line, sizeof(line), "%s", wait_phase(&s, "open"));
	expect(&s, line, "start", "clean");
	players = cnt(line, "players");
	if (cnt(line, "objects") != objects)
		die(&s, "after the refusal v2 resumed %llu objects, not %llu", cnt(line, "objects"), objects);
	wait_phase(&s, "verify");
	wait_phase(&s, "stop");
	expect_exit(&s, 0);
	say("      nothing was touched: v2 still resumes clean with %llu objects (%llu players)",
	    cnt(line, "objects"), players);

	/* 7. a build that grows Player: every player migrated in place */
	spawn(&s, "grown", "--verify", "--ticks", "10", NULL);
	snprintf(line, sizeof(line), "%s", wait_phase(&s, "open"));
	expect(&s, line, "start", "clean");
	if (cnt(line, "migrated") != players || cnt(line, "players") != players)
		die(&s, "the grown build migrated %llu players of %llu", cnt(line, "migrated"), players);
	if (cnt(line, "objects") != objects)
		die(&s, "after the migration %llu objects, not %llu", cnt(line, "objects"), objects);
	{
		const char *v = wait_phase(&s, "verify");

		if (cnt(v, "bad_checksums") || cnt(v, "dangling") || cnt(v, "orphans"))
			die(&s, "the verify pass after the migration found bad objects");
	}
	wait_phase(&s, "stop");
	expect_exit(&s, 0);
	say("[7/8] v3 grows Player 256->320 bytes (adds the field achievements, 64 bytes; reserved "
	    "and sum move): migrated %llu players in %.1f ms (resumed clean in %.0f µs), all "
	    "checksums match, ran 10 ticks", cnt(line, "migrated"), num(line, "migrate_ms"),
	    num(line, "ready_us"));

	/* 8. destroy: the next start is cold */
	spawn(&s, "v1", "--destroy", NULL);
	expect(&s, wait_phase(&s, "destroyed"), "existed", "yes");
	expect_exit(&s, 0);
	spawn(&s, "v1", "--ticks", "0", NULL);
	snprintf(line, sizeof(line), "%s", wait_phase(&s, "open"));
	expect(&s, line, "start", "cold");
	snprintf(buf, sizeof(buf), "%s", wait_phase(&s, "populate"));
	wait_phase(&s, "stop");
	expect_exit(&s, 0);
	spawn(&s, "v1", "--destroy", NULL);
	wait_phase(&s, "destroyed");
	expect_exit(&s, 0);
	say("[8/8] destroyed: the next start is cold (pool created in %.0f µs, %llu objects "
	    "populated in %.0f ms); destroyed again, nothing left behind",
	    num(line, "open_us"), cnt(buf, "objects"), num(buf, "ms"));

	unlink(s.kid.err_path);
	rmdir(s.tmpdir);
	say("zone_demo: OK, the whole story in %.1f s", (double)(mono_ms() - s.t0) / 1e3);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "v1"))
		return zone_main_v1(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "v2"))
		return zone_main_v2(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "grown"))
		return zone_main_grown(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "kind"))
		return zone_main_kind(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "story")) {
		fprintf(stderr, "usage: zone_demo [story [--small|--full] [--zone N]]\n"
				"       zone_demo v1|v2|grown|kind [zone_server options]\n");
		return 2;
	}
	return story(argc > 1 ? argc - 1 : 1, argc > 1 ? argv + 1 : argv, argc == 1);
}
