/*
 * cdc_facts.envelope._projection: a schemaless Debezium change value, decoded with only the
 * row columns the translator's rules read.
 *
 * project(columns, strings, lists, unknown, ops, unread, change, heartbeat, value, key,
 * topic, partition, offset) -> change(op, before, after, source, ts_ms, key, transaction,
 * topic, partition, offset), or None. The first eight are fixed per decoder
 * (functools.partial binds them). `unread` (a frozenset of at most 8 str) names members of
 * the source block left out of the change: nobody reads them; their values are still
 * checked as JSON. `heartbeat` (a str) is the prefix of heartbeat topics: their records
 * are refused, whatever they hold, so that the caller needs no test of its own first.
 *
 * The whole value is checked as strict JSON (RFC 8259, UTF-8), but Python objects are made
 * only for the envelope fields a change keeps and, inside `before` and `after`, for the
 * columns in `columns` (a frozenset of str; None keeps every column). On updates and
 * deletes a kept column holding Debezium's unavailable-value placeholder (a str in
 * `strings`, or a list equal to one in `lists`) becomes `unknown`.
 *
 * None means "not decoded here": the caller decodes the record with the general decoder,
 * which also names any problem. This happens for anything not plainly a schemaless change
 * event (a record of a heartbeat topic, or of a topic that is neither None nor a str, not
 * JSON, not an object, a `payload` or `schema` field, an escaped envelope field
 * name, no `op` in `ops`, rows or source that are not objects, a source block whose name,
 * schema, db, table, lsn or ts_ms, or an envelope whose ts_ms or transaction, is not what
 * Debezium writes there (as envelope_fits() in records.py checks them), a key that is not a
 * schemaless JSON object) and for the rare values whose parse by orjson this code does not
 * repeat (integers past 64 bits, numbers of more than 64 characters, nesting deeper than
 * 256). It never accepts a document orjson rejects, and every value it makes
 * equals orjson's.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <limits.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <string.h>

#define MAX_DEPTH 256
#define MAX_NUMBER 64

typedef struct {
    const unsigned char *p;
    const unsigned char *end; /* where the text ends; *end is read (see peek()) */
    int depth;
    int share; /* short texts are shared through the text cache (in the source block) */
    PyObject *unread; /* the source block's members left out (a frozenset), or NULL */
    PyObject *strings; /* the placeholder's text forms (a frozenset), or NULL */
    int placeholder;   /* 1: a kept column's value may be the placeholder (see below) */
} Scan;

/* ---- the text cache: keys and short texts repeat from record to record ---------------- */

#define KEY_SLOTS 1024
#define KEY_MAX 48

typedef struct {
    Py_ssize_t len;
    unsigned char text[KEY_MAX];
    PyObject *key;
} KeySlot;

static KeySlot key_cache[KEY_SLOTS];
static PyObject *payload_name; /* "payload", interned */

static PyObject *ascii_str(const unsigned char *s, Py_ssize_t n) {
    PyObject *str = PyUnicode_New(n, 127);
    if (str == NULL) return NULL;
    memcpy(PyUnicode_1BYTE_DATA(str), s, (size_t)n);
    return str;
}

/* A quick hash of a short text: its length and first and last eight bytes. */
static inline uint64_t text_hash(const unsigned char *s, Py_ssize_t n) {
    uint64_t head = 0, tail = 0;
    if (n >= 8) {
        memcpy(&head, s, 8);
        memcpy(&tail, s + n - 8, 8);
    } else if (n >= 4) { /* two overlapping four-byte reads cover 4 to 7 bytes */
        uint32_t lo, hi;
        memcpy(&lo, s, 4);
        memcpy(&hi, s + n - 4, 4);
        head = (uint64_t)lo | ((uint64_t)hi << 32);
    } else {
        for (Py_ssize_t i = 0; i < n; i++) head |= (uint64_t)s[i] << (8 * i);
    }
    uint64_t h = (head * 0x9E3779B97F4A7C15ull) ^ (tail * 0xC2B2AE3D27D4EB4Full) ^ (uint64_t)n;
    h ^= h >> 29;
    return h * 0x94D049BB133111EBull;
}

/* memcmp(a, b, n) == 0, in two or four loads for the texts of 4 to 16 bytes most member
 * names and short values are: memcmp's call costs more than their comparison. */
static inline int same_text(const unsigned char *a, const unsigned char *b, Py_ssize_t n) {
    if (n >= 8 && n <= 16) { /* two overlapping eight-byte reads cover 8 to 16 bytes */
        uint64_t a1, b1, a2, b2;
        memcpy(&a1, a, 8);
        memcpy(&b1, b, 8);
        memcpy(&a2, a + n - 8, 8);
        memcpy(&b2, b + n - 8, 8);
        return a1 == b1 && a2 == b2;
    }
    if (n >= 4 && n < 8) { /* as two overlapping four-byte reads */
        uint32_t a1, b1, a2, b2;
        memcpy(&a1, a, 4);
        memcpy(&b1, b, 4);
        memcpy(&a2, a + n - 4, 4);
        memcpy(&b2, b + n - 4, 4);
        return a1 == b1 && a2 == b2;
    }
    return memcmp(a, b, (size_t)n) == 0;
}

/* A short ASCII text, shared from record to record. A member name (`intern`) is interned,
 * so that looking it up by a name the code spells (`source.get("ts_ms")`) matches by
 * identity; a value is not, as values like the source's `sequence` change every record. */
static PyObject *cached_key(const unsigned char *s, Py_ssize_t n, int intern) {
    KeySlot *slot = &key_cache[text_hash(s, n) >> 54]; /* 10 bits: KEY_SLOTS; memcmp confirms */
    if (slot->key != NULL && slot->len == n && same_text(slot->text, s, n)) {
        if (intern && !PyUnicode_CHECK_INTERNED(slot->key))
            PyUnicode_InternInPlace(&slot->key); /* cached as a value first */
        Py_INCREF(slot->key);
        return slot->key;
    }
    PyObject *key = ascii_str(s, n);
    if (key == NULL) return NULL;
    if (intern) PyUnicode_InternInPlace(&key);
    Py_XDECREF(slot->key);
    slot->len = n;
    memcpy(slot->text, s, (size_t)n);
    Py_INCREF(key);
    slot->key = key;
    return key;
}

/* ---- the columns to keep, as raw text: a column is looked up before any object is made - */

#define COLUMN_SLOTS 512

typedef struct {
    PyObject *owner; /* the frozenset this was built from (a strong reference) */
    struct {
        Py_ssize_t len;
        const char *text; /* UTF-8 of `key`, owned by it */
        PyObject *key;
    } slots[COLUMN_SLOTS];
} ColumnSet;

static ColumnSet column_set;

/* Build column_set from `columns` unless it already holds them; -1 if they do not fit. */
static int use_columns(PyObject *columns) {
    if (column_set.owner == columns) return 0;
    Py_CLEAR(column_set.owner);
    memset(column_set.slots, 0, sizeof(column_set.slots));
    if (PySet_GET_SIZE(columns) > COLUMN_SLOTS / 2) return -1;
    PyObject *names = PyObject_GetIter(columns), *key;
    if (names == NULL) return -1;
    while ((key = PyIter_Next(names)) != NULL) {
        Py_DECREF(key); /* the frozenset, held below, keeps it alive */
        if (!PyUnicode_CheckExact(key)) break;
        Py_ssize_t len;
        const char *text = PyUnicode_AsUTF8AndSize(key, &len);
        if (text == NULL) break;
        size_t i = text_hash((const unsigned char *)text, len) >> 55; /* 9 bits */
        while (column_set.slots[i].key != NULL) i = (i + 1) & (COLUMN_SLOTS - 1);
        column_set.slots[i].len = len;
        column_set.slots[i].text = text;
        column_set.slots[i].key = key;
    }
    Py_DECREF(names);
    if (key != NULL || PyErr_Occurred()) { /* stopped early: not a set of str */
        memset(column_set.slots, 0, sizeof(column_set.slots));
        return -1;
    }
    Py_INCREF(columns);
    column_set.owner = columns;
    return 0;
}

/* The column named by raw key text (no escapes), borrowed, or NULL when it is not kept. */
static PyObject *kept_column(const unsigned char *text, Py_ssize_t len) {
    size_t i = text_hash(text, len) >> 55;
    for (;;) {
        PyObject *key = column_set.slots[i].key;
        if (key == NULL) return NULL;
        if (column_set.slots[i].len == len &&
            same_text((const unsigned char *)column_set.slots[i].text, text, len))
            return key;
        i = (i + 1) & (COLUMN_SLOTS - 1);
    }
}

/* ---- the source block's members left out, as raw text ---------------------------------- */

#define UNREAD_SLOTS 8

static struct {
    PyObject *owner; /* the frozenset this was built from (a strong reference) */
    int count;
    unsigned lengths; /* bit n: a name n bytes long is among them (n < 32) */
    struct {
        Py_ssize_t len;
        const char *text; /* UTF-8 of the name, owned by `owner`'s member */
        uint64_t word;    /* short_word() of it: names of up to 8 bytes compare in one step */
    } names[UNREAD_SLOTS];
} unread_set;

/* A text of up to 8 bytes as one number (two overlapping reads from 4 bytes on); with the
 * length, equal numbers mean equal texts. */
static inline uint64_t short_word(const unsigned char *s, Py_ssize_t n) {
    if (n >= 4) {
        uint32_t lo, hi;
        memcpy(&lo, s, 4);
        memcpy(&hi, s + n - 4, 4);
        return (uint64_t)lo | ((uint64_t)hi << 32);
    }
    uint64_t word = 0;
    for (Py_ssize_t i = 0; i < n; i++) word |= (uint64_t)s[i] << (8 * i);
    return word;
}

/* Learn `names` unless already learnt; -1 if they are not up to 8 short str. */
static int use_unread(PyObject *names) {
    if (unread_set.owner == names) return 0;
    Py_CLEAR(unread_set.owner);
    unread_set.count = 0;
    unread_set.lengths = 0;
    if (PySet_GET_SIZE(names) > UNREAD_SLOTS) return -1;
    PyObject *iter = PyObject_GetIter(names), *name;
    if (iter == NULL) {
        PyErr_Clear(); /* then every member is kept */
        return -1;
    }
    while ((name = PyIter_Next(iter)) != NULL) {
        Py_DECREF(name); /* the frozenset, held below, keeps it alive */
        Py_ssize_t len = 0;
        const char *text = PyUnicode_CheckExact(name) ? PyUnicode_AsUTF8AndSize(name, &len) : NULL;
        if (text == NULL || len >= 32) break;
        unread_set.names[unread_set.count].len = len;
        unread_set.names[unread_set.count].text = text;
        unread_set.names[unread_set.count].word =
            len <= 8 ? short_word((const unsigned char *)text, len) : 0;
        unread_set.count++;
        unread_set.lengths |= 1u << len;
    }
    Py_DECREF(iter);
    if (name != NULL || PyErr_Occurred()) { /* stopped early: not a set of short str */
        PyErr_Clear(); /* then every member is kept: more than asked, never less */
        unread_set.count = 0;
        unread_set.lengths = 0;
        return -1;
    }
    unread_set.owner = Py_NewRef(names);
    return 0;
}

/* Whether a member of the source block, named by raw key text (no escapes), is left out. */
static int unread_member(const unsigned char *text, Py_ssize_t len) {
    if (len >= 32 || !(unread_set.lengths & (1u << len))) return 0;
    if (len <= 8) {
        uint64_t word = short_word(text, len);
        for (int i = 0; i < unread_set.count; i++)
            if (unread_set.names[i].len == len && unread_set.names[i].word == word) return 1;
        return 0;
    }
    for (int i = 0; i < unread_set.count; i++)
        if (unread_set.names[i].len == len && memcmp(unread_set.names[i].text, text, (size_t)len) == 0)
            return 1;
    return 0;
}

/* ---- whitespace, literals ------------------------------------------------------------- */

static inline void skip_ws(Scan *s) {
    /* compact JSON has none: one compare settles every byte past the space */
    while (s->p < s->end && *s->p <= ' ' &&
           (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
        s->p++;
}

/* The byte next past any whitespace, not read; -1 at the end of the text. Compact JSON has
 * no whitespace: the first test mostly settles it, without a test of the end first, as the
 * byte at the end is the NUL that ends every bytes object (the texts of all Scans that
 * peek() are whole bytes objects), and a NUL is no whitespace nor past the space. */
static inline int peek(Scan *s) {
    if (*s->p > ' ') return *s->p; /* s->p <= s->end, always */
    skip_ws(s);
    return s->p < s->end ? *s->p : -1;
}

static int literal(Scan *s, const char *word, Py_ssize_t n) {
    if (s->end - s->p < n || memcmp(s->p, word, (size_t)n) != 0) return -1;
    s->p += n;
    return 0;
}

/* ---- strings -------------------------------------------------------------------------- */

/* The length of the UTF-8 sequence at p (strict: no overlong forms, no surrogates, nothing
 * past U+10FFFF), or 0 when it is not one. */
static Py_ssize_t utf8_length(const unsigned char *p, const unsigned char *end) {
    unsigned char c = p[0];
    if (c >= 0xC2 && c <= 0xDF) {
        return (end - p >= 2 && (p[1] & 0xC0) == 0x80) ? 2 : 0;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (end - p < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && p[1] < 0xA0) return 0; /* overlong */
        if (c == 0xED && p[1] >= 0xA0) return 0; /* a surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (end - p < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
            (p[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && p[1] < 0x90) return 0; /* overlong */
        if (c == 0xF4 && p[1] >= 0x90) return 0; /* past U+10FFFF */
        return 4;
    }
    return 0;
}

static int hex4(const unsigned char *p, const unsigned char *end, uint32_t *out) {
    if (end - p < 4) return -1;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

/* Read one escape after its backslash; the code point goes to *cp. */
static int escape(Scan *s, uint32_t *cp) {
    if (s->p >= s->end) return -1;
    unsigned char c = *s->p++;
    switch (c) {
    case '"': *cp = '"'; return 0;
    case '\\': *cp = '\\'; return 0;
    case '/': *cp = '/'; return 0;
    case 'b': *cp = '\b'; return 0;
    case 'f': *cp = '\f'; return 0;
    case 'n': *cp = '\n'; return 0;
    case 'r': *cp = '\r'; return 0;
    case 't': *cp = '\t'; return 0;
    case 'u': break;
    default: return -1;
    }
    uint32_t high;
    if (hex4(s->p, s->end, &high) < 0) return -1;
    s->p += 4;
    if (high >= 0xDC00 && high <= 0xDFFF) return -1; /* a low surrogate first */
    if (high < 0xD800 || high > 0xDBFF) {
        *cp = high;
        return 0;
    }
    uint32_t low;
    if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' ||
        hex4(s->p + 2, s->end, &low) < 0 || low < 0xDC00 || low > 0xDFFF)
        return -1; /* a high surrogate without its low one */
    s->p += 6;
    *cp = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
    return 0;
}

static Py_ssize_t put_utf8(unsigned char *out, uint32_t cp) {
    if (cp < 0x80) { out[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Scan a string whose opening quote was read. On success *start and *len span its raw text,
 * *flags tells whether it holds escapes (1) or bytes past ASCII (2). */
#if defined(__GNUC__)
#define HOT static inline __attribute__((always_inline))
#else
#define HOT static inline
#endif

/* inlined where it is called, as its pointer arguments then stay in registers: a call per
 * member name and per text value costs more than the scan of most */
HOT int scan_string(Scan *s, const unsigned char **start, Py_ssize_t *len, int *flags) {
    const unsigned char *p = s->p, *end = s->end;
    int f = 0;
    *start = p;
    while (p < end) {
#if defined(__SSE2__)
        /* sixteen bytes at a time: stop at a quote, a backslash, a control byte or a byte
         * past ASCII (the signed compare takes bytes >= 0x80 as negative) */
        while (end - p >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)p);
            __m128i hit = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                             _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
            int mask = _mm_movemask_epi8(hit);
            if (mask != 0) {
                p += __builtin_ctz((unsigned)mask);
                break;
            }
            p += 16;
        }
#endif
        if (p >= end) break;
        unsigned char c = *p;
        if (c == '"') {
            *len = p - *start;
            *flags = f;
            s->p = p + 1;
            return 0;
        }
        if (c == '\\') {
            uint32_t cp;
            s->p = p + 1;
            if (escape(s, &cp) < 0) return -1;
            p = s->p;
            f |= 1;
        } else if (c < 0x20) {
            return -1; /* a control character */
        } else if (c < 0x80) {
            p++;
        } else {
            Py_ssize_t n = utf8_length(p, end);
            if (n == 0) return -1;
            p += n;
            f |= 2;
        }
    }
    return -1;
}

static PyObject *make_string(const unsigned char *start, Py_ssize_t len, int flags) {
    if (flags == 0) return ascii_str(start, len);
    if (!(flags & 1)) return PyUnicode_DecodeUTF8((const char *)start, len, "strict");
    /* unescape into UTF-8 (never longer than the escaped text), then decode */
    unsigned char stack[256];
    unsigned char *buf = len <= (Py_ssize_t)sizeof(stack) ? stack : PyMem_Malloc((size_t)len);
    if (buf == NULL) return PyErr_NoMemory();
    Scan s = {start, start + len, 0, 0, NULL};
    Py_ssize_t n = 0;
    while (s.p < s.end) {
        if (*s.p == '\\') {
            uint32_t cp = 0;
            s.p++;
            if (escape(&s, &cp) < 0) break; /* cannot happen: scan_string checked it */
            n += put_utf8(buf + n, cp);
        } else {
            buf[n++] = *s.p++;
        }
    }
    PyObject *str = PyUnicode_DecodeUTF8((const char *)buf, n, "strict");
    if (buf != stack) PyMem_Free(buf);
    return str;
}

/* ---- numbers -------------------------------------------------------------------------- */

/* The end of the run of ASCII digits that starts at p. */
static inline const unsigned char *digits(const unsigned char *p, const unsigned char *end) {
#if defined(__SSE2__)
    /* sixteen bytes at a time: stop at a byte below '0' or above '9' (the signed compares
     * take bytes >= 0x80 as negative: below '0') */
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)p);
        __m128i other = _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8('0')),
                                     _mm_cmpgt_epi8(v, _mm_set1_epi8('9')));
        int mask = _mm_movemask_epi8(other);
        if (mask != 0) return p + __builtin_ctz((unsigned)mask);
        p += 16;
    }
#endif
    while (p < end && *p >= '0' && *p <= '9') p++;
    return p;
}

/* Scan a number; make it unless `keep` is 0 (inlined in value(), as the numbers of a record
 * are many and most are short). Returns 0, or -1 when it is not one this code
 * decodes (invalid JSON, or a value orjson would parse differently than here). */
HOT int number(Scan *s, int keep, PyObject **out) {
    const unsigned char *start = s->p, *p = s->p, *end = s->end;
    int negative = 0, is_float = 0;
    if (p < end && *p == '-') { negative = 1; p++; }
    if (p >= end) return -1;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        p = digits(p, end);
    } else {
        return -1;
    }
    const unsigned char *int_end = p;
    if (p < end && *p == '.') {
        is_float = 1;
        p++;
        if (p >= end || *p < '0' || *p > '9') return -1;
        p = digits(p, end);
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        is_float = 1;
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || *p < '0' || *p > '9') return -1;
        p = digits(p, end);
    }
    Py_ssize_t len = p - start;
    if (len > MAX_NUMBER) return -1;
    s->p = p;
    if (!is_float) {
        if (!keep) return 0; /* past 64 bits orjson makes a float: never an error */
        unsigned long long v = 0;
        const unsigned char *d = start + negative;
        if (int_end - d <= 19) { /* 19 digits fit 64 bits: no overflow test per digit */
            for (; d < int_end; d++) v = v * 10 + (unsigned)(*d - '0');
        } else {
            for (; d < int_end; d++) {
                unsigned digit = (unsigned)(*d - '0');
                if (v > (ULLONG_MAX - digit) / 10) return -1; /* past 64 bits */
                v = v * 10 + digit;
            }
        }
        if (!negative) {
            *out = PyLong_FromUnsignedLongLong(v);
        } else if (v <= (unsigned long long)LLONG_MAX) {
            *out = PyLong_FromLongLong(-(long long)v);
        } else if (v == (unsigned long long)LLONG_MAX + 1) {
            *out = PyLong_FromLongLong(LLONG_MIN);
        } else {
            return -1; /* below -2**63: orjson makes a float */
        }
        return *out == NULL ? -1 : 0;
    }
    char text[MAX_NUMBER + 1];
    memcpy(text, start, (size_t)len);
    text[len] = '\0';
    char *stop = NULL;
    double v = PyOS_string_to_double(text, &stop, NULL); /* correctly rounded, as orjson */
    if (v == -1.0 && PyErr_Occurred()) return -1;
    if (stop != text + len || Py_IS_INFINITY(v)) return -1; /* orjson rejects infinity */
    if (!keep) return 0;
    *out = PyFloat_FromDouble(v);
    return *out == NULL ? -1 : 0;
}

/* ---- values --------------------------------------------------------------------------- */

/* The lengths of the placeholder's text forms: most values are looked at no further. */
static struct {
    PyObject *owner; /* the frozenset of forms (a strong reference), or NULL */
    Py_ssize_t lengths[4];
} placeholder_lengths;

static int learn_lengths(PyObject *strings) {
    if (PySet_GET_SIZE(strings) > 4) return -1;
    Py_ssize_t lengths[4] = {-1, -1, -1, -1}, n = 0;
    PyObject *forms = PyObject_GetIter(strings), *form;
    if (forms == NULL) return -1;
    while ((form = PyIter_Next(forms)) != NULL) {
        lengths[n++] = PyUnicode_Check(form) ? PyUnicode_GET_LENGTH(form) : -1;
        Py_DECREF(form);
    }
    Py_DECREF(forms);
    if (PyErr_Occurred()) return -1;
    memcpy(placeholder_lengths.lengths, lengths, sizeof(lengths));
    Py_XSETREF(placeholder_lengths.owner, Py_NewRef(strings));
    return 0;
}

/* Whether a value kept in a row may be the placeholder: a text of one of the lengths of its
 * forms, or a list (as mark_unknown() compares them); when the lengths known are those of
 * other forms, maybe. A record none of whose kept values may be is not looked at again. */
static inline int may_be_placeholder(PyObject *strings, PyObject *item) {
    if (PyUnicode_CheckExact(item)) {
        if (placeholder_lengths.owner != strings) return 1;
        const Py_ssize_t *lengths = placeholder_lengths.lengths, len = PyUnicode_GET_LENGTH(item);
        return len == lengths[0] || len == lengths[1] || len == lengths[2] || len == lengths[3];
    }
    return PyList_CheckExact(item);
}

#define ROW_SIZE 8     /* kept columns: a handful */
#define SOURCE_SIZE 16 /* Debezium's source block: 12 to 16 fields */

static inline int value(Scan *s, int keep, PyObject **out);

/* After an object member or an array item: 1 when a ',' announces another, 0 when `close`
 * ends the container (both consumed), -1 for anything else. */
static int next_item(Scan *s, char close) {
    int c = peek(s);
    if (c == ',') { s->p++; return 1; }
    if (c == close) { s->p++; return 0; }
    return -1;
}

/* A dict sized for `size` members: rows and the source block grow no further. */
static inline PyObject *new_dict(Py_ssize_t size) {
#if PY_VERSION_HEX < 0x030D0000
    return size > 0 ? _PyDict_NewPresized(size) : PyDict_New();
#else
    (void)size;
    return PyDict_New();
#endif
}

/* An object; `columns` (a set, or NULL for all) chooses the members made when keeping;
 * `size` is how many members to expect. */
static int object(Scan *s, int keep, PyObject *columns, Py_ssize_t size, PyObject **out) {
    PyObject *dict = NULL;
    if (keep && (dict = new_dict(size)) == NULL) return -1;
    if (peek(s) == '}') {
        s->p++;
        if (keep) *out = dict;
        return 0;
    }
    for (;;) {
        if (peek(s) != '"') goto fail;
        s->p++;
        const unsigned char *ks;
        Py_ssize_t klen;
        int kflags;
        if (scan_string(s, &ks, &klen, &kflags) < 0) goto fail;
        if (peek(s) != ':') goto fail;
        s->p++;
        PyObject *key = NULL; /* (value() skips the whitespace before the value) */
        int member = 0;
        if (keep && columns != NULL && kflags == 0) { /* a row: only the kept columns */
            /* a finaliser run by an allocation may have used other columns meanwhile */
            if (column_set.owner != columns && use_columns(columns) < 0) goto fail;
            key = kept_column(ks, klen);
            member = key != NULL;
            Py_XINCREF(key);
        } else if (keep && s->share && s->depth == 2 && kflags == 0 && s->unread != NULL &&
                   (unread_set.owner == s->unread || use_unread(s->unread) == 0) &&
                   unread_member(ks, klen)) {
            member = 0; /* a member of the source block nobody reads (not one nested in it) */
        } else if (keep) {
            /* member names of the envelope's own objects (the source block, the
             * transaction, the key) are interned; those nested in values are not: they
             * may be ids, each new one would stay in the interned table */
            key = (kflags == 0 && klen <= KEY_MAX) ? cached_key(ks, klen, s->depth <= 2)
                                                  : make_string(ks, klen, kflags);
            if (key == NULL) goto fail;
            if (columns == NULL) {
                member = 1;
            } else {
                member = PySet_Contains(columns, key);
                if (member < 0) { Py_DECREF(key); goto fail; }
            }
        }
        PyObject *item = NULL;
        if (value(s, member, &item) < 0) { Py_XDECREF(key); goto fail; }
        if (member) {
            if (columns != NULL && !s->placeholder) /* a row's kept column */
                s->placeholder = may_be_placeholder(s->strings, item);
            int rc = PyDict_SetItem(dict, key, item);
            Py_DECREF(item);
            if (rc < 0) { Py_DECREF(key); goto fail; }
        }
        Py_XDECREF(key);
        int more = next_item(s, '}');
        if (more < 0) goto fail;
        if (!more) break;
    }
    if (keep) *out = dict;
    return 0;
fail:
    Py_XDECREF(dict);
    return -1;
}

static int array(Scan *s, int keep, PyObject **out) {
    PyObject *list = NULL;
    if (keep && (list = PyList_New(0)) == NULL) return -1;
    if (peek(s) == ']') {
        s->p++;
        if (keep) *out = list;
        return 0;
    }
    for (;;) {
        PyObject *item = NULL;
        if (value(s, keep, &item) < 0) goto fail; /* past the whitespace before it */
        if (keep) {
            int rc = PyList_Append(list, item);
            Py_DECREF(item);
            if (rc < 0) goto fail;
        }
        int more = next_item(s, ']');
        if (more < 0) goto fail;
        if (!more) break;
    }
    if (keep) *out = list;
    return 0;
fail:
    Py_XDECREF(list);
    return -1;
}

static int constant(Scan *s, int keep, const char *word, Py_ssize_t n, PyObject *obj,
                    PyObject **out) {
    if (literal(s, word, n) < 0) return -1;
    if (keep) {
        Py_INCREF(obj);
        *out = obj;
    }
    return 0;
}

/* inlined where it is called, as scan_string() is: most values are short */
HOT int value(Scan *s, int keep, PyObject **out) {
    int c = peek(s); /* the whitespace before the value: its callers need not skip it */
    if (c < 0) return -1;
    if (c == '"') {
        s->p++;
        const unsigned char *start;
        Py_ssize_t len;
        int flags;
        if (scan_string(s, &start, &len, &flags) < 0) return -1;
        if (!keep) return 0;
        /* the source block's texts repeat from record to record: shared (str is immutable) */
        *out = (s->share && flags == 0 && len <= KEY_MAX) ? cached_key(start, len, 0)
                                                          : make_string(start, len, flags);
        return *out == NULL ? -1 : 0;
    }
    if (c == '{' || c == '[') {
        if (++s->depth > MAX_DEPTH) return -1;
        s->p++;
        int rc = c == '{' ? object(s, keep, NULL, 0, out) : array(s, keep, out);
        s->depth--;
        return rc;
    }
    if (c == 't') return constant(s, keep, "true", 4, Py_True, out);
    if (c == 'f') return constant(s, keep, "false", 5, Py_False, out);
    if (c == 'n') return constant(s, keep, "null", 4, Py_None, out);
    return number(s, keep, out);
}

/* ---- the envelope --------------------------------------------------------------------- */

enum { F_OP, F_BEFORE, F_AFTER, F_SOURCE, F_TS_MS, F_TRANSACTION, F_COUNT, F_SKIP, F_REFUSE };

static int field_of(const unsigned char *k, Py_ssize_t n, int flags) {
    if (flags & 1) return F_REFUSE; /* an escaped key may spell an envelope field ("\u006fp") */
    if (flags != 0) return F_SKIP;  /* past ASCII: no envelope field */
#define IS(word) (n == (Py_ssize_t)sizeof(word) - 1 && memcmp(k, word, sizeof(word) - 1) == 0)
    if (IS("op")) return F_OP;
    if (IS("before")) return F_BEFORE;
    if (IS("after")) return F_AFTER;
    if (IS("source")) return F_SOURCE;
    if (IS("ts_ms")) return F_TS_MS;
    if (IS("transaction")) return F_TRANSACTION;
    if (IS("payload") || IS("schema")) return F_REFUSE; /* a JsonConverter document */
#undef IS
    return F_SKIP;
}

/* One field of the envelope; rows are objects or null, as is the source block. */
static int envelope_field(Scan *s, int field, PyObject *columns, PyObject **slot) {
    PyObject *item = NULL;
    int row = field == F_BEFORE || field == F_AFTER;
    if (row || field == F_SOURCE) {
        if (literal(s, "null", 4) == 0) {
            item = Py_None;
            Py_INCREF(item);
        } else if (s->p < s->end && *s->p == '{') {
            s->p++;
            s->depth++;
            s->share = !row;
            int made = row ? object(s, 1, columns, ROW_SIZE, &item)
                           : object(s, 1, NULL, SOURCE_SIZE, &item);
            if (made < 0) return -1;
            s->share = 0;
            s->depth--;
        } else {
            return -1;
        }
    } else if (value(s, 1, &item) < 0) {
        return -1;
    }
    Py_XSETREF(*slot, item); /* a repeated field: the last one counts, as in orjson */
    return 0;
}

static int envelope(Scan *s, PyObject *columns, PyObject **fields) {
    skip_ws(s);
    if (s->p >= s->end || *s->p != '{') return -1;
    s->p++;
    s->depth = 1;
    skip_ws(s);
    if (s->p < s->end && *s->p == '}') return -1; /* no op */
    for (;;) {
        skip_ws(s);
        if (s->p >= s->end || *s->p != '"') return -1;
        s->p++;
        const unsigned char *k;
        Py_ssize_t klen;
        int kflags;
        if (scan_string(s, &k, &klen, &kflags) < 0) return -1;
        int field = field_of(k, klen, kflags);
        if (field == F_REFUSE) return -1;
        skip_ws(s);
        if (s->p >= s->end || *s->p != ':') return -1;
        s->p++;
        skip_ws(s);
        if (field == F_SKIP) {
            if (value(s, 0, NULL) < 0) return -1;
        } else if (envelope_field(s, field, columns, &fields[field]) < 0) {
            return -1;
        }
        skip_ws(s);
        if (s->p >= s->end) return -1;
        if (*s->p == ',') { s->p++; continue; }
        if (*s->p == '}') { s->p++; break; }
        return -1;
    }
    skip_ws(s);
    return s->p == s->end ? 0 : -1;
}

/* Replace placeholders in a kept row by `unknown`, in place. */
static int mark_unknown(PyObject *row, PyObject *strings, PyObject *lists, PyObject *unknown) {
    if (row == NULL || row == Py_None) return 0;
    if (placeholder_lengths.owner != strings && learn_lengths(strings) < 0) return -1;
    const Py_ssize_t *lengths = placeholder_lengths.lengths;
    Py_ssize_t pos = 0;
    PyObject *key, *item;
    while (PyDict_Next(row, &pos, &key, &item)) {
        int hit = 0;
        if (PyUnicode_CheckExact(item)) {
            Py_ssize_t len = PyUnicode_GET_LENGTH(item);
            if (len == lengths[0] || len == lengths[1] || len == lengths[2] || len == lengths[3])
                hit = PySet_Contains(strings, item);
        } else if (PyList_CheckExact(item)) {
            for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(lists) && hit == 0; i++)
                hit = PyObject_RichCompareBool(item, PyTuple_GET_ITEM(lists, i), Py_EQ);
        }
        if (hit < 0) return -1;
        if (hit && PyDict_SetItem(row, key, unknown) < 0) return -1; /* same key: no resize */
    }
    return 0;
}

/* ---- what the translator reads as plain values: as envelope_fits() in records.py ------- */

/* The epoch milliseconds a Python datetime can hold (years 1 to 9999). */
#define MIN_MS (-62135596800000LL)
#define MAX_MS 253402300799999LL

enum { S_NAME, S_SCHEMA, S_DB, S_TABLE, S_LSN, S_TS_MS, S_COUNT };
static PyObject *source_names[S_COUNT]; /* interned: "name", "schema", ... */

/* null, or an int (not a bool) of epoch milliseconds a datetime can hold */
static int is_millis(PyObject *v) {
    if (v == NULL || v == Py_None) return 1;
    if (!PyLong_CheckExact(v)) return 0;
    int overflow = 0;
    long long millis = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (millis == -1 && PyErr_Occurred()) return -1;
    return !overflow && millis >= MIN_MS && millis <= MAX_MS;
}

/* 1 when the source block's name, schema, db and table are text (or null or left out),
 * its lsn an int or text, its ts_ms and the envelope's epoch milliseconds, and the
 * transaction an object; 0 otherwise (the general decoder names the field); -1 on error. */
static int plain_envelope(PyObject **fields) {
    PyObject *transaction = fields[F_TRANSACTION], *source = fields[F_SOURCE];
    if (transaction != NULL && transaction != Py_None && !PyDict_CheckExact(transaction))
        return 0;
    int ok = is_millis(fields[F_TS_MS]);
    if (ok <= 0 || source == NULL || source == Py_None) return ok; /* a source made below */
    for (int i = 0; i < S_COUNT; i++) {
        PyObject *v = PyDict_GetItemWithError(source, source_names[i]); /* borrowed */
        if (v == NULL) {
            if (PyErr_Occurred()) return -1;
            continue;
        }
        if (v == Py_None || PyUnicode_CheckExact(v)) {
            if (i == S_TS_MS && v != Py_None) return 0;
            continue;
        }
        if (i == S_LSN && PyLong_CheckExact(v)) continue;
        if (i == S_TS_MS) {
            if ((ok = is_millis(v)) <= 0) return ok;
            continue;
        }
        return 0;
    }
    return 1;
}

/* ---- making the change: its slots filled directly, as Change.__init__ does ------------- */

static const char *const change_fields[10] = {"op", "before", "after", "source", "ts_ms",
                                              "key", "transaction", "topic", "partition",
                                              "offset"};

static struct {
    PyObject *type; /* the class the offsets are of (a strong reference), or NULL */
    int usable;     /* 1: every field is an object slot; 0: the class is called instead */
    Py_ssize_t offsets[10];
} change_layout;

static void learn_layout(PyObject *type) {
    Py_XSETREF(change_layout.type, Py_NewRef(type));
    change_layout.usable = 0;
    if (!PyType_Check(type)) return;
    PyObject *dict = ((PyTypeObject *)type)->tp_dict;
    for (int i = 0; i < 10; i++) {
        PyObject *descr = PyDict_GetItemString(dict, change_fields[i]); /* borrowed */
        if (descr == NULL || !Py_IS_TYPE(descr, &PyMemberDescr_Type) ||
            PyDescr_TYPE(descr) != (PyTypeObject *)type)
            return;
        PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
        if (member->type != T_OBJECT_EX || (member->flags & READONLY) ||
            member->offset < (Py_ssize_t)sizeof(PyObject) ||
            member->offset + (Py_ssize_t)sizeof(PyObject *) >
                ((PyTypeObject *)type)->tp_basicsize)
            return;
        change_layout.offsets[i] = member->offset;
    }
    change_layout.usable = 1;
}

static PyObject *make_change(PyObject *type, PyObject *const *values) {
    if (change_layout.type != type) learn_layout(type);
    if (!change_layout.usable) return PyObject_Vectorcall(type, values, 10, NULL);
    PyTypeObject *cls = (PyTypeObject *)type;
    Py_ssize_t offsets[10]; /* tp_alloc may run a finaliser that learns another layout */
    memcpy(offsets, change_layout.offsets, sizeof(offsets));
    PyObject *change = cls->tp_alloc(cls, 0);
    if (change == NULL) return NULL;
    for (int i = 0; i < 10; i++)
        *(PyObject **)((char *)change + offsets[i]) = Py_NewRef(values[i]);
    return change;
}

/* A record key without a schema: a JSON object with no `payload` member, made whole. */
static int plain_key(PyObject *raw, PyObject **out) {
    if (raw == Py_None || (PyBytes_CheckExact(raw) && PyBytes_GET_SIZE(raw) == 0)) {
        Py_INCREF(Py_None);
        *out = Py_None;
        return 0;
    }
    if (!PyBytes_CheckExact(raw)) return -1;
    const unsigned char *text = (const unsigned char *)PyBytes_AS_STRING(raw);
    Scan s = {text, text + PyBytes_GET_SIZE(raw), 0, 0, NULL};
    skip_ws(&s);
    if (s.p >= s.end || *s.p != '{') return -1;
    s.p++;
    s.depth = 1;
    PyObject *key = NULL;
    if (object(&s, 1, NULL, 0, &key) < 0) return -1;
    skip_ws(&s);
    int wrapped = PyDict_GetItemWithError(key, payload_name) != NULL; /* a JsonConverter document */
    if (s.p != s.end || wrapped) {
        Py_DECREF(key);
        return -1;
    }
    *out = key;
    return 0;
}

enum { A_COLUMNS, A_STRINGS, A_LISTS, A_UNKNOWN, A_OPS, A_UNREAD, A_CHANGE, A_HEARTBEAT,
       A_VALUE, A_KEY, A_TOPIC, A_PARTITION, A_OFFSET, A_COUNT };

/* 1 when `topic` is a heartbeat topic, or no str (the general decoder then decides what
 * it is); 0 when it is None or another str; -1 on error. */
static int other_topic(PyObject *topic, PyObject *heartbeat) {
    if (topic == Py_None) return 0;
    if (!PyUnicode_Check(topic)) return 1;
    Py_ssize_t n = PyUnicode_GET_LENGTH(heartbeat);
    if (PyUnicode_GET_LENGTH(topic) < n) return 0;
    return (int)PyUnicode_Tailmatch(topic, heartbeat, 0, n, -1);
}

static PyObject *project(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != A_COUNT || !PyBytes_CheckExact(args[A_VALUE]) ||
        !PyFrozenSet_CheckExact(args[A_STRINGS]) || !PyTuple_CheckExact(args[A_LISTS]) ||
        !PyFrozenSet_CheckExact(args[A_OPS]) || !PyFrozenSet_CheckExact(args[A_UNREAD]) ||
        !PyUnicode_Check(args[A_HEARTBEAT]) ||
        (args[A_COLUMNS] != Py_None && !PyFrozenSet_CheckExact(args[A_COLUMNS]))) {
        PyErr_SetString(PyExc_TypeError,
                        "project(columns: frozenset | None, strings: frozenset, lists: tuple, "
                        "unknown, ops: frozenset, unread: frozenset, change: type, "
                        "heartbeat: str, value: bytes, key, topic, partition, offset)");
        return NULL;
    }
    PyObject *columns = args[A_COLUMNS];
    const unsigned char *text = (const unsigned char *)PyBytes_AS_STRING(args[A_VALUE]);
    PyObject *unread = PySet_GET_SIZE(args[A_UNREAD]) > 0 ? args[A_UNREAD] : NULL;
    Scan s = {text, text + PyBytes_GET_SIZE(args[A_VALUE]), 0, 0, unread, args[A_STRINGS], 0};
    PyObject *fields[F_COUNT] = {NULL};
    PyObject *key = NULL, *result = NULL;
    int heartbeat = other_topic(args[A_TOPIC], args[A_HEARTBEAT]);
    if (heartbeat < 0) return NULL;
    if (heartbeat) goto refuse;
    if (columns != Py_None && use_columns(columns) < 0) goto refuse;
    if (envelope(&s, columns == Py_None ? NULL : columns, fields) < 0) goto refuse;
    PyObject *op = fields[F_OP];
    if (op == NULL || !PyUnicode_CheckExact(op)) goto refuse;
    int known = PySet_Contains(args[A_OPS], op);
    if (known <= 0) goto refuse;
    if (PyUnicode_GET_LENGTH(op) == 1) {
        Py_UCS4 c = PyUnicode_READ_CHAR(op, 0);
        /* with every column kept, rows are not looked at while they are made */
        int look = s.placeholder || columns == Py_None;
        if ((c == 'u' || c == 'd') && look &&
            (mark_unknown(fields[F_BEFORE], args[A_STRINGS], args[A_LISTS], args[A_UNKNOWN]) < 0 ||
             mark_unknown(fields[F_AFTER], args[A_STRINGS], args[A_LISTS], args[A_UNKNOWN]) < 0))
            goto refuse;
    }
    if (plain_envelope(fields) <= 0) goto refuse;
    if (fields[F_SOURCE] == NULL || fields[F_SOURCE] == Py_None ||
        PyDict_GET_SIZE(fields[F_SOURCE]) == 0) { /* as `payload.get("source") or {}` */
        Py_XSETREF(fields[F_SOURCE], PyDict_New());
        if (fields[F_SOURCE] == NULL) goto done;
    }
    if (plain_key(args[A_KEY], &key) < 0) goto refuse;
    PyObject *call[10] = {op, fields[F_BEFORE], fields[F_AFTER], fields[F_SOURCE],
                          fields[F_TS_MS], key, fields[F_TRANSACTION], args[A_TOPIC],
                          args[A_PARTITION], args[A_OFFSET]};
    for (int i = 0; i < 10; i++)
        if (call[i] == NULL) call[i] = Py_None;
    result = make_change(args[A_CHANGE], call);
    goto done;
refuse:
    if (PyErr_ExceptionMatches(PyExc_MemoryError)) goto done; /* raised, not refused */
    PyErr_Clear(); /* the general decoder runs instead, and names any problem */
    result = Py_None;
    Py_INCREF(result);
done:
    Py_XDECREF(key);
    for (int i = 0; i < F_COUNT; i++) Py_XDECREF(fields[i]);
    return result;
}

static PyMethodDef methods[] = {
    {"project", (PyCFunction)(void (*)(void))project, METH_FASTCALL,
     "project(columns, strings, lists, unknown, ops, unread, change, heartbeat, value, key, "
     "topic, partition, offset) -> change | None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_projection",
    "A schemaless Debezium change value, decoded with only the columns the rules read.", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__projection(void) {
    payload_name = PyUnicode_InternFromString("payload");
    if (payload_name == NULL) return NULL;
    static const char *const names[S_COUNT] = {"name", "schema", "db", "table", "lsn", "ts_ms"};
    for (int i = 0; i < S_COUNT; i++)
        if ((source_names[i] = PyUnicode_InternFromString(names[i])) == NULL) return NULL;
    return PyModule_Create(&module_def);
}
