// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The C++ demo zone server (examples/zone_server.cpp) against kill -9, and
 * against the C server (examples/zone_server.c): the same world, config and
 * checksums, so each resumes the other's pool, cleanly or after a crash,
 * with every checksum matching and no dangling handle.
 *
 * One binary holds both servers (their objects, each with its own main:
 * zone_cpp_main and zone_main_v1) and this Check suite; the suite starts
 * them as child processes, "/proc/self/exe cpp|c ARGS...", reads their
 * "ZONE phase=..." lines and kills them.  It runs on the host (POSIX
 * backend, plain and ASan+UBSan) and, static, in every VM round on
 * /dev/shmpool (tests/cpp/build.mk).
 */
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern "C" {
#include "testutil.h"
int zone_main_v1(int argc, char **argv);
}
int zone_cpp_main(int argc, char **argv);

namespace {

/* Zones of this suite (their keys: examples/zone.ini.tmpl). */
const int zones[] = { 930, 931, 932 };

const char *const small[] = { "--players", "2000", "--items", "5000", "--item-cap", "6000",
			      "--scenes", "50", "--report-ms", "20" };

struct child {
	pid_t pid = 0;
	FILE *out = nullptr;
	std::string what;
};

child spawn(const char *variant, int zone, std::vector<const char *> extra, bool quiet = false)
{
	std::string z = std::to_string(zone);
	std::vector<const char *> argv = { "zone_server", variant, "--zone", z.c_str() };
	int fds[2];
	child c;

	for (const char *a : small)
		argv.push_back(a);
	for (const char *a : extra)
		argv.push_back(a);
	argv.push_back(nullptr);
	c.what = std::string(variant) + " --zone " + z;
	for (const char *a : extra)
		c.what += std::string(" ") + a;
	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	std::fflush(stdout);
	c.pid = fork();
	ck_assert_int_ge(c.pid, 0);
	if (c.pid == 0) {
		/* A test that fails leaves no server ticking on. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fds[1], STDOUT_FILENO);
		if (quiet)	/* the sweep: "does not exist" is the normal case */
			setenv("SHMDEV_LOG", "none", 1);
		execv("/proc/self/exe", const_cast<char **>(argv.data()));
		std::fprintf(stderr, "exec /proc/self/exe: %s\n", std::strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	c.out = fdopen(fds[0], "r");
	ck_assert_ptr_nonnull(c.out);
	return c;
}

bool is_phase(const std::string &line, const char *phase)
{
	std::string p = std::string("ZONE phase=") + phase;

	return line.compare(0, p.size(), p) == 0 && (line.size() == p.size() || line[p.size()] == ' ');
}

/* Lines until "ZONE phase=@phase"; a failure line or the end fails the test. */
std::string wait_phase(child &c, const char *phase)
{
	char buf[4096];

	while (std::fgets(buf, sizeof(buf), c.out)) {
		std::string line(buf);

		if (!line.empty() && line.back() == '\n')
			line.pop_back();
		if (is_phase(line, phase))
			return line;
		for (const char *bad : { "error", "refused", "corrupt" })
			ck_assert_msg(!is_phase(line, bad), "`%s`: %s", c.what.c_str(), line.c_str());
	}
	ck_abort_msg("`%s` ended before phase=%s", c.what.c_str(), phase);
	return std::string();
}

std::string field(const std::string &line, const char *key)
{
	std::string k = std::string(" ") + key + "=";
	std::size_t at = line.find(k);

	if (at == std::string::npos)
		return std::string();
	at += k.size();
	return line.substr(at, line.find(' ', at) - at);
}

void expect_field(const child &c, const std::string &line, const char *key, const char *want)
{
	std::string v = field(line, key);

	ck_assert_msg(v == want, "`%s`: %s=%s, expected %s", c.what.c_str(), key, v.c_str(), want);
}

unsigned long long cnt(const std::string &line, const char *key)
{
	return std::strtoull(field(line, key).c_str(), nullptr, 10);
}

/* Its exit status, or 128 + the signal. */
int reap(child &c)
{
	char buf[4096];
	int st;

	while (std::fgets(buf, sizeof(buf), c.out))
		;
	std::fclose(c.out);
	ck_assert_int_eq(waitpid(c.pid, &st, 0), c.pid);
	c.pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void expect_exit(child &c, int want)
{
	int rc = reap(c);

	ck_assert_msg(rc == want, "`%s` exited with %d, expected %d", c.what.c_str(), rc, want);
}

void destroy(const char *variant, int zone)
{
	child c = spawn(variant, zone, { "--destroy" });

	wait_phase(c, "destroyed");
	expect_exit(c, 0);
}

/* Cold start, populate, tick at full load for a while, then kill -9 mid-tick. */
void cold_then_kill(const char *variant, int zone)
{
	child c = spawn(variant, zone, {});
	std::string open = wait_phase(c, "open"), run;

	const char *env = std::getenv("SHMDEV_BACKEND");

	expect_field(c, open, "start", "cold");
	expect_field(c, open, "build", !std::strcmp(variant, "c") ? "v1" : "cpp");
	/* The template says device: the VM's /dev/shmpool, or the host's override. */
	expect_field(c, open, "backend", env && *env ? env : "device");
	wait_phase(c, "populate");
	do
		run = wait_phase(c, "running");
	while (cnt(run, "ticks") < 5);
	/* Not right after a status line: it would be between ticks then. */
	timespec ts = { 0, (long)(10 + std::rand() % 40) * 1000000L };
	nanosleep(&ts, nullptr);
	kill(c.pid, SIGKILL);
	expect_exit(c, 128 + SIGKILL);
}

/* Resume after the crash: the repair and a full verify find nothing wrong. */
void resume_crash(const char *variant, int zone)
{
	child c = spawn(variant, zone, { "--verify", "--ticks", "20" });
	std::string repair = wait_phase(c, "repair"), open = wait_phase(c, "open");

	expect_field(c, open, "start", "crash");
	ck_assert_msg(cnt(repair, "bad_checksums") == 0 && cnt(repair, "dangling") == 0,
		      "`%s`: %s", c.what.c_str(), repair.c_str());
	ck_assert_uint_gt(cnt(repair, "objects"), 0);
	std::string v = wait_phase(c, "verify");
	ck_assert_msg(cnt(v, "bad_checksums") == 0 && cnt(v, "dangling") == 0 && cnt(v, "orphans") == 0,
		      "`%s`: %s", c.what.c_str(), v.c_str());
	ck_assert_uint_eq(cnt(v, "objects"), cnt(repair, "objects"));
	std::printf("zone_cpp: `%s` after kill -9: %llu objects, inflight=%s undone=%llu "
		    "orphans=%llu, all checksums match\n", c.what.c_str(), cnt(repair, "objects"),
		    field(repair, "inflight").c_str(), cnt(repair, "undone"), cnt(repair, "orphans"));
	wait_phase(c, "stop");
	expect_exit(c, 0);
}

/* A clean start after a clean stop, verified. */
void resume_clean(const char *variant, int zone)
{
	child c = spawn(variant, zone, { "--verify", "--ticks", "20" });
	std::string open = wait_phase(c, "open");

	expect_field(c, open, "start", "clean");
	std::string v = wait_phase(c, "verify");
	ck_assert_msg(cnt(v, "bad_checksums") == 0 && cnt(v, "dangling") == 0 && cnt(v, "orphans") == 0,
		      "`%s`: %s", c.what.c_str(), v.c_str());
	wait_phase(c, "stop");
	expect_exit(c, 0);
}

void sweep()
{
	for (int z : zones) {
		child c = spawn("cpp", z, { "--destroy" }, true);
		(void)reap(c);
	}
}

} // namespace

/* The host scenario of the C++ example: run, kill -9, resume, all checksums match. */
START_TEST(test_cpp_kill_resume)
{
	cold_then_kill("cpp", zones[0]);
	resume_crash("cpp", zones[0]);
	resume_clean("cpp", zones[0]);
	destroy("cpp", zones[0]);
}
END_TEST

/* The C server takes over the C++ server's pool, after a kill -9 and cleanly. */
START_TEST(test_cpp_to_c)
{
	cold_then_kill("cpp", zones[1]);
	resume_crash("c", zones[1]);
	resume_clean("cpp", zones[1]);
	resume_clean("c", zones[1]);
	destroy("c", zones[1]);
}
END_TEST

/* And the C++ server the C server's. */
START_TEST(test_c_to_cpp)
{
	cold_then_kill("c", zones[2]);
	resume_crash("cpp", zones[2]);
	resume_clean("c", zones[2]);
	destroy("cpp", zones[2]);
}
END_TEST

int main(int argc, char **argv)
{
	if (argc > 1 && !std::strcmp(argv[1], "cpp"))
		return zone_cpp_main(argc - 1, argv + 1);
	if (argc > 1 && !std::strcmp(argv[1], "c"))
		return zone_main_v1(argc - 1, argv + 1);

	tu_init("zone_cpp");
	std::srand((unsigned int)getpid());
	Suite *s = suite_create("zone_cpp");
	TCase *tc = tcase_create("zone");
	/* A guard against a hung child, not a timed assertion. */
	tcase_set_timeout(tc, 300);
	tcase_add_unchecked_fixture(tc, sweep, sweep);
	tcase_add_test(tc, test_cpp_kill_resume);
	tcase_add_test(tc, test_cpp_to_c);
	tcase_add_test(tc, test_c_to_cpp);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
