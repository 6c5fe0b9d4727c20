# vigil - a plain Makefile (docs/design.md).
#   make            build build/vigil (dynamic, for development and faketime)
#   make check      -Werror build, unit tests, integration tests, summary line
#   make unit       unit tests only
#   make it         integration tests only (needs PostgreSQL 15, see tests/it/lib.sh)
#   make demo       the demo of README.md
#   make lint       layer, library-home and exit-status rules (scripts/lint.sh)
#   make asan       unit + integration tests under ASan/UBSan (build-asan/)
#   make deps       install the Debian packages vigil and its tests need
#   make bench      throughput against pg_dump|gzip, tar czf & co. (bench/run.sh)
#   make static     build-static/vigil: fully static x86-64 binary for the image
#                   (scripts/static.sh; libraries from pinned Debian sources,
#                   cached; `make static GITREV=id` where there is no .git)
#   make check-image  the Docker image, built and tested in a real engine (tests/image/run.sh)
#   make env-example  regenerate .env.prod.example from the configuration table

CC      ?= cc
PKGS    := libpq libarchive libcjson zlib libdeflate libzstd libcrypto libmicrohttpd libcurl
WARN    := -Wall -Wextra -Wshadow -Wformat=2 -Wconversion -Wmissing-prototypes \
           -Wno-sign-conversion -Wno-format-truncation
OPT     ?= -O2 -g
CFLAGS  ?=
CFLAGS  += -std=c11 -D_GNU_SOURCE -pthread $(OPT) $(WARN) \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
ifeq ($(WERROR),1)
CFLAGS  += -Werror
endif
# STATIC=1 (set by scripts/static.sh, which also points PKG_CONFIG_PATH at
# its library prefix): -DVIGIL_STATIC=1, the libraries' private
# dependencies too (pkg-config --static), and a -static link.
ifeq ($(STATIC),1)
CFLAGS  += -DVIGIL_STATIC=1
LDLIBS  += -static $(shell pkg-config --static --libs $(PKGS) 2>/dev/null) -pthread
else
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -pthread
endif
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GITREV  := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
CFLAGS  += -DVIGIL_VERSION='"$(VERSION)"' -DVIGIL_BUILD='"$(GITREV)"'

B       ?= build
# Sources live in one folder per layer (src/base, src/infra, src/pipeline,
# src/cmd; docs/design.md); objects mirror them under $(B)/obj/. Includes
# name their folder ("infra/db.h"), resolved from -Isrc.
SRC     := $(sort $(wildcard src/*.c src/*/*.c))
OBJ     := $(SRC:src/%.c=$(B)/obj/%.o)
LIBOBJ  := $(filter-out %/main.o,$(OBJ))
UNITSRC := $(wildcard tests/unit/test_*.c)
UNITBIN := $(UNITSRC:tests/unit/%.c=$(B)/%)
CFLAGS  += -Isrc

.PHONY: all check unit it demo asan deps clean bench lint static check-image FORCE

all: $(B)/vigil

# -MMD -MP: each object's header dependencies are written beside it
# ($(B)/obj/x.d) by the compiler and included below, so a header change
# rebuilds exactly what includes it (and a deleted header breaks nothing).
# An object without its .d yet (an older build directory) is rebuilt once.
$(B)/obj/%.o: src/%.c $(B)/obj/%.d
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<
$(B)/obj/%.d: ;
.PRECIOUS: $(B)/obj/%.d

$(B):
	mkdir -p $(B)

# The build id (git HEAD) is compiled into main.o and daemon.o: rebuild them
# when HEAD moves, so `vigil version` and the bench header name the code.
$(B)/gitrev: FORCE | $(B)
	@echo '$(GITREV)' | cmp -s - $@ || echo '$(GITREV)' >$@
$(filter %/main.o %/daemon.o %/serve.o,$(OBJ)): $(B)/gitrev
FORCE:

$(B)/vigil: $(OBJ)
	$(CC) $(CFLAGS) -o $@ $(OBJ) $(LDLIBS)

$(B)/test_%: tests/unit/test_%.c $(LIBOBJ) | $(B)
	$(CC) $(CFLAGS) -MMD -MP -o $@ $< $(LIBOBJ) $(LDLIBS)

-include $(OBJ:.o=.d) $(UNITBIN:=.d)

unit: $(UNITBIN)
	@sh tests/unit/run.sh $(UNITBIN)

it: $(B)/vigil
	@bash tests/it/run.sh

check:
	@$(MAKE) --no-print-directory deps
	@bash scripts/lint.sh
	@$(MAKE) --no-print-directory -B WERROR=1 all $(UNITBIN)
	@bash tests/check.sh $(UNITBIN)

demo:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all
	@bash scripts/demo.sh

# The sanitizer build and both test suites under it (tests/asan.sh); any
# sanitizer report fails it. .ci/run runs it after `make check`.
ASANB   := build-asan
ASANOPT := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined \
           -fno-omit-frame-pointer
asan:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory B=$(ASANB) OPT='$(ASANOPT)' WERROR=1 \
		LDLIBS='$(LDLIBS) -fsanitize=address,undefined' \
		all $(UNITSRC:tests/unit/%.c=$(ASANB)/%)
	@bash tests/asan.sh $(UNITSRC:tests/unit/%.c=$(ASANB)/%)

deps:
	@bash scripts/deps.sh

bench:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all
	@bash bench/run.sh

# .env.prod.example is `vigil check-config --env-example` (t_env_example checks it).
.PHONY: env-example
env-example: $(B)/vigil
	$(B)/vigil check-config --env-example >.env.prod.example

# build-static/vigil (scripts/static.sh: deps, then this Makefile again with
# STATIC=1 B=build-static). GITREV is handed on: the Docker build has no .git.
static:
	@GITREV='$(GITREV)' bash scripts/static.sh

# The structure rules of docs/design.md: layers, one home per library, no
# literal exit status (scripts/lint.sh).
lint:
	@bash scripts/lint.sh

clean:
	rm -rf build build-asan build-static

# vigil's image in a real Docker engine (tests/image/run.sh): base images
# (scripts/base-images.sh), docker build, compose tests. .ci/run runs it
# after `make check`.
check-image:
	@bash tests/image/run.sh
