/* stream_int.h - what the two halves of the stream engine share: stream.c
 * (writer, names and levels) and stream_reader.c (reader). No other file
 * includes it; the rest of vigil uses stream.h.
 */
#ifndef VIGIL_STREAM_INT_H
#define VIGIL_STREAM_INT_H

#include "infra/codec.h"
#include "infra/stream.h"

/* The codec behind c (static data, not owned): &codec_gzip, &codec_zstd,
 * or NULL for STREAM_NONE and for values outside the enum. */
const struct codec *stream_codec_of(enum stream_codec c);

#endif
