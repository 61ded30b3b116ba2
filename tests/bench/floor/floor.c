/*
 * floor: the cheapest FUSE server that answers open/read/close, as a reference for
 * `cargo bench --bench fuse` ("the floor").
 *
 * It serves vproc's tree shape (proc/{meminfo,cpuinfo,stat,uptime,loadavg} and
 * sys/devices/system/cpu/online) through the libfuse3 low-level API. Each file returns
 * a fixed buffer: a copy of the host's file captured once at start. Files are opened
 * with direct_io (sizes are reported as 0, as vproc does, and the kernel reads to EOF),
 * entry and attribute timeouts are 1.0 s, and FLUSH is answered ENOSYS, which is what
 * libfuse answers when a server has no flush handler: the kernel then stops sending
 * FLUSH on this connection. The handler exists only to count that one request.
 *
 * Every request the server answers is counted per opcode; the counts are printed on
 * stderr when the session ends (SIGTERM, SIGINT, SIGHUP or unmount). Opcodes without a
 * handler here (STATFS, GETXATTR, ACCESS...) are answered by libfuse itself and are
 * not counted.
 *
 * Usage: floor [-s] [-p PIDFILE] MOUNTPOINT
 *   -s          single-threaded session loop (default: fuse_session_loop_mt with
 *               clone_fd off and the default idle-thread limit)
 *   -p PIDFILE  write the pid there (removed at exit)
 * Mounts with allow_other,nosuid,nodev; runs in the foreground.
 */
#define FUSE_USE_VERSION 312

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const double TIMEOUT = 1.0;

struct node {
	fuse_ino_t ino;
	fuse_ino_t parent;
	const char *name;
	const char *source; /* NULL for a directory */
	char *data;
	size_t len;
};

static struct node nodes[] = {
	{1, 1, "", NULL, NULL, 0},
	{2, 1, "proc", NULL, NULL, 0},
	{3, 1, "sys", NULL, NULL, 0},
	{4, 3, "devices", NULL, NULL, 0},
	{5, 4, "system", NULL, NULL, 0},
	{6, 5, "cpu", NULL, NULL, 0},
	{7, 2, "meminfo", "/proc/meminfo", NULL, 0},
	{8, 2, "cpuinfo", "/proc/cpuinfo", NULL, 0},
	{9, 2, "stat", "/proc/stat", NULL, 0},
	{10, 2, "uptime", "/proc/uptime", NULL, 0},
	{11, 2, "loadavg", "/proc/loadavg", NULL, 0},
	{12, 6, "online", "/sys/devices/system/cpu/online", NULL, 0},
};
#define NNODES (sizeof(nodes) / sizeof(nodes[0]))

enum counter {
	C_INIT, C_DESTROY, C_LOOKUP, C_FORGET, C_GETATTR, C_OPEN, C_READ, C_FLUSH,
	C_RELEASE, C_OPENDIR, C_READDIR, C_RELEASEDIR, C_COUNT
};
static const char *counter_names[C_COUNT] = {
	"INIT", "DESTROY", "LOOKUP", "FORGET", "GETATTR", "OPEN", "READ", "FLUSH",
	"RELEASE", "OPENDIR", "READDIR", "RELEASEDIR",
};
static atomic_ulong counts[C_COUNT];

static void count(enum counter c)
{
	atomic_fetch_add_explicit(&counts[c], 1, memory_order_relaxed);
}

static struct node *node_of(fuse_ino_t ino)
{
	return ino >= 1 && ino <= NNODES ? &nodes[ino - 1] : NULL;
}

/* Read a whole (possibly size-0 /proc) file into memory. */
static int capture(struct node *n)
{
	FILE *f = fopen(n->source, "r");
	size_t cap = 4096;
	if (!f)
		return -1;
	n->data = malloc(cap);
	while (n->data) {
		n->len += fread(n->data + n->len, 1, cap - n->len, f);
		if (n->len < cap)
			break;
		cap *= 2;
		n->data = realloc(n->data, cap);
	}
	fclose(f);
	return n->data ? 0 : -1;
}

static void fill_stat(const struct node *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = n->ino;
	if (n->source) {
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
	} else {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
	}
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	(void)conn;
	count(C_INIT);
}

static void op_destroy(void *userdata)
{
	(void)userdata;
	count(C_DESTROY);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	count(C_LOOKUP);
	for (size_t i = 1; i < NNODES; i++) {
		if (nodes[i].parent == parent && strcmp(nodes[i].name, name) == 0) {
			struct fuse_entry_param e;
			memset(&e, 0, sizeof(e));
			e.ino = nodes[i].ino;
			e.attr_timeout = TIMEOUT;
			e.entry_timeout = TIMEOUT;
			fill_stat(&nodes[i], &e.attr);
			fuse_reply_entry(req, &e);
			return;
		}
	}
	fuse_reply_err(req, ENOENT);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	(void)ino;
	(void)nlookup;
	count(C_FORGET);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t n, struct fuse_forget_data *f)
{
	(void)n;
	(void)f;
	count(C_FORGET);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct node *n = node_of(ino);
	struct stat st;
	(void)fi;
	count(C_GETATTR);
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_stat(n, &st);
	fuse_reply_attr(req, &st, TIMEOUT);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct node *n = node_of(ino);
	count(C_OPEN);
	if (!n) {
		fuse_reply_err(req, ENOENT);
	} else if (!n->source) {
		fuse_reply_err(req, EISDIR);
	} else if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EACCES);
	} else {
		fi->direct_io = 1;
		fi->fh = ino;
		fuse_reply_open(req, fi);
	}
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct node *n = node_of(fi->fh);
	(void)ino;
	count(C_READ);
	if (!n || off < 0 || (size_t)off >= n->len) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (size > n->len - (size_t)off)
		size = n->len - (size_t)off;
	fuse_reply_buf(req, n->data + off, size);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	count(C_FLUSH);
	fuse_reply_err(req, ENOSYS);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	count(C_RELEASE);
	fuse_reply_err(req, 0);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct node *n = node_of(ino);
	count(C_OPENDIR);
	if (!n)
		fuse_reply_err(req, ENOENT);
	else if (n->source)
		fuse_reply_err(req, ENOTDIR);
	else
		fuse_reply_open(req, fi);
}

static size_t add_entry(fuse_req_t req, char *buf, size_t cap, size_t used,
			const char *name, const struct node *n, off_t next)
{
	struct stat st;
	size_t need;
	fill_stat(n, &st);
	need = fuse_add_direntry(req, NULL, 0, name, NULL, 0);
	if (used + need > cap)
		return 0;
	return fuse_add_direntry(req, buf + used, cap - used, name, &st, next);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct node *n = node_of(ino);
	char buf[4096];
	size_t used = 0;
	off_t pos = 0;
	(void)fi;
	count(C_READDIR);
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (size > sizeof(buf))
		size = sizeof(buf);
	for (size_t i = 0; i < NNODES + 2; i++) {
		const struct node *e;
		const char *name;
		size_t added;
		if (i == 0) {
			e = n;
			name = ".";
		} else if (i == 1) {
			e = node_of(n->parent);
			name = "..";
		} else if (nodes[i - 2].parent == ino && nodes[i - 2].ino != ino) {
			e = &nodes[i - 2];
			name = e->name;
		} else {
			continue;
		}
		if (pos++ < off)
			continue;
		added = add_entry(req, buf, size, used, name, e, pos);
		if (!added)
			break;
		used += added;
	}
	fuse_reply_buf(req, buf, used);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	count(C_RELEASEDIR);
	fuse_reply_err(req, 0);
}

static const struct fuse_lowlevel_ops ops = {
	.init = op_init,
	.destroy = op_destroy,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.open = op_open,
	.read = op_read,
	.flush = op_flush,
	.release = op_release,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.releasedir = op_releasedir,
};

static void print_counts(void)
{
	fprintf(stderr, "floor: requests answered:");
	for (int c = 0; c < C_COUNT; c++)
		fprintf(stderr, " %s %lu", counter_names[c],
			atomic_load_explicit(&counts[c], memory_order_relaxed));
	fprintf(stderr, "\n");
}

static void usage(void)
{
	fprintf(stderr, "usage: floor [-s] [-p PIDFILE] MOUNTPOINT\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *pidfile = NULL;
	int single = 0, opt, ret;
	char *fuse_argv[] = {argv[0], "-o", "allow_other,nosuid,nodev,fsname=floor,subtype=floor"};
	struct fuse_args args = FUSE_ARGS_INIT(3, fuse_argv);
	struct fuse_session *se;

	while ((opt = getopt(argc, argv, "sp:")) != -1) {
		if (opt == 's')
			single = 1;
		else if (opt == 'p')
			pidfile = optarg;
		else
			usage();
	}
	if (optind != argc - 1)
		usage();
	for (size_t i = 0; i < NNODES; i++) {
		if (nodes[i].source && capture(&nodes[i]) != 0) {
			perror(nodes[i].source);
			return 1;
		}
	}
	se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (!se)
		return 1;
	if (fuse_set_signal_handlers(se) != 0 || fuse_session_mount(se, argv[optind]) != 0) {
		fuse_session_destroy(se);
		return 1;
	}
	if (pidfile) {
		FILE *f = fopen(pidfile, "w");
		if (f) {
			fprintf(f, "%d\n", (int)getpid());
			fclose(f);
		}
	}
	if (single) {
		ret = fuse_session_loop(se);
	} else {
		struct fuse_loop_config *cfg = fuse_loop_cfg_create();
		fuse_loop_cfg_set_clone_fd(cfg, 0);
		ret = fuse_session_loop_mt(se, cfg);
		fuse_loop_cfg_destroy(cfg);
	}
	fuse_session_unmount(se);
	fuse_remove_signal_handlers(se);
	fuse_session_destroy(se);
	print_counts();
	if (pidfile)
		unlink(pidfile);
	return ret < 0 ? 1 : 0;
}
