/*
 * player.c: README's C example, long-running.  It opens the pool of process
 * "zone" in ./memorypool.ini (or the file given with -c), says how it
 * started, then raises player 42's level once a second until SIGTERM or
 * SIGINT (a clean exit) or the number of seconds given.  Kill it with
 * kill -9 and the next start says it resumed after a crash and what the
 * repair found:
 *
 *   $ ./player &          player 42: new (cold start), level 1
 *   $ kill -9 %1
 *   $ ./player 2          player 42: resumed after a crash (1 object repaired
 *                         in 12 us), level 4
 *
 * Build on an installed system:
 *   cc $(pkg-config --cflags libshmdev) -o player player.c $(pkg-config --libs libshmdev)
 */
#include <shmdev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct player { uint64_t id; uint32_t level, gold; };

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void say_start(const struct shmdev_pool *pool, const struct player *p)
{
	struct shmdev_pool_stats st;

	shmdev_pool_stats(pool, &st);
	switch (shmdev_pool_start(pool)) {
	case SHMDEV_START_CREATED:
		printf("player 42: new (cold start), level %u\n", p->level);
		break;
	case SHMDEV_START_RESUMED_CLEAN:
		printf("player 42: resumed after a clean exit, level %u\n", p->level);
		break;
	case SHMDEV_START_RESUMED_CRASH:
		printf("player 42: resumed after a crash (%llu object%s repaired in %llu us), level %u\n",
		       (unsigned long long)st.repaired_objects,
		       st.repaired_objects == 1 ? "" : "s",
		       (unsigned long long)(st.repair_ns / 1000), p->level);
		break;
	default:
		printf("player 42: resumed, level %u\n", p->level);
		break;
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const struct shmdev_type types[] = {
		{ .id = 1, .name = "Player", .size = sizeof(struct player),
		  .version = 1, .max_count = 100000, .flags = SHMDEV_TYPE_KEYED },
	};
	const char *path = "memorypool.ini";
	struct shmdev_ctx *ctx; struct shmdev_conf *conf = NULL; struct shmdev_pool *pool;
	struct sigaction sa;
	struct player *p; shmdev_handle_t h; bool created;
	long seconds = -1;
	int opt, err;

	while ((opt = getopt(argc, argv, "c:h")) != -1) {
		if (opt == 'c') {
			path = optarg;
		} else {
			fprintf(stderr, "usage: %s [-c memorypool.ini] [SECONDS]\n", argv[0]);
			return opt == 'h' ? 0 : 2;
		}
	}
	if (optind < argc) {
		char *end;

		seconds = strtol(argv[optind], &end, 10);
		if (*end || seconds < 0) {
			fprintf(stderr, "player: SECONDS \"%s\": not a number of seconds\n", argv[optind]);
			return 2;
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	if (shmdev_ctx_new(&ctx) < 0)
		return 1;
	err = shmdev_conf_load(ctx, path, "zone", &conf);
	if (!err)
		err = shmdev_pool_open(ctx, conf, types, 1, 0, &pool);
	if (err) {
		fprintf(stderr, "player: %s\n", shmdev_errmsg(ctx));
		if (conf)
			shmdev_conf_free(conf);
		shmdev_ctx_unref(ctx);
		return 1;
	}
	err = shmdev_force_get(pool, 1, 42, (void **)&p, &h, &created);
	if (err) {
		fprintf(stderr, "player: %s\n", shmdev_errmsg(ctx));
	} else {
		++p->level;
		say_start(pool, p);
		for (; !stop && seconds != 0; seconds--) {
			sleep(1);
			if (!stop)
				++p->level;
		}
		printf("player 42: level %u, clean exit\n", p->level);
	}
	shmdev_pool_close(pool);
	shmdev_conf_free(conf);
	shmdev_ctx_unref(ctx);
	return err ? 1 : 0;
}
