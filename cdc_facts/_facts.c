/*
 * cdc_facts._facts: the steps of making a fact that run once per fact, in C.
 *
 * fact_id(prefix, tail, position) -> str
 *     The UUID (version 5) of SHA-1(prefix + "<len(position)>:<position>|" + tail), as
 *     cdc_facts.facts.fact_ids() makes it: the same text, byte for byte.
 *
 * row_fact_id(prefix, tail, position, key) -> str
 *     fact_id() of the position with the row's key appended, as cdc_facts.changes.with_key()
 *     appends it (`:name=value,...` in name order), or of the position alone when `key` is
 *     None or empty. Its side effects (a __format__ that changes the key) and its errors,
 *     messages included, are those of the Python code too.
 *
 * make_fact(rule, change, subject, time, data) -> Fact | None
 *     The end of cdc_facts.rule_plans.RulePlan.build: the fact's position, id and
 *     provenance extensions, and the Fact itself, as the Python code makes them; `rule` is
 *     (id prefix, id tail, fact type, CloudEvents source, topic). None hands the change back
 *     to the Python code (a change of a shape it does not expect).
 *
 * build_fact(plan, change) -> Fact | None
 *     All of cdc_facts.rule_plans.RulePlan.build for the common changes: the key, each data
 *     field (read from the after image or by its evaluator; decimal and timestamp text
 *     converted as cdc_facts.contracts converts them) and the time, then make_fact(). None
 *     hands the change to the Python code, which does it all again and names any problem.
 *
 * run_rules(steps, change) -> list[Fact] | None
 *     The loop of cdc_facts.translator's table plan over its rules: each rule's `when`,
 *     then build_fact() where it is TRUE. None hands the change to the Python loop.
 *
 * sha_instructions(use) -> bool
 *     Whether ids are hashed with the CPU's SHA instructions (x86-64 with SHA-NI, found at
 *     import) rather than the portable SHA-1; both give the same digest. `use` False turns
 *     them off, True back on where the CPU has them, None only asks (for the tests).
 *
 * configure(decimal, utc, extensions, datacontenttype, fact)
 *     Called once, by cdc_facts.facts, before encode(): the Decimal class, the UTC tzinfo,
 *     the set of extension names known valid, the data content type, and the Fact class.
 *
 * encode(fact) -> bytes | None
 *     A plain fact as structured-mode CloudEvents JSON, the bytes orjson writes for
 *     cdc_facts.facts._plain_event(fact) with the UTC option and _fast_default. None means
 *     "not written here": the caller takes its general path, which writes anything else and
 *     names any problem. A fact is plain when it is exactly a Fact; its id, source, type and
 *     subject are non-empty str and it has no dataschema; its time is a datetime in UTC (the
 *     utc object itself); its extensions are str values under names in the valid set; and
 *     its data maps str to values of exactly these classes: str, int (within 64 bits), bool,
 *     None, Decimal (finite, written in fixed notation by str()), datetime in UTC, date.
 *     Strings that are not valid UTF-8 (lone surrogates) are left to the general path too.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* ---- SHA-1 (FIPS 180-4), enough for one short message at a time -------------------- */

typedef struct {
    uint32_t h[5];
    uint64_t length; /* bytes hashed so far */
    unsigned char block[64];
    size_t used;
} Sha1;

static uint32_t rol(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

#define SHA1_ROUNDS(from, to, f, k)                      \
    for (int i = (from); i < (to); i++) {                 \
        uint32_t t = rol(a, 5) + (f) + e + (k) + w[i];    \
        e = d;                                            \
        d = c;                                            \
        c = rol(b, 30);                                   \
        b = a;                                            \
        a = t;                                            \
    }

static void sha1_compress(uint32_t h[5], const unsigned char *p) {
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 80; i++) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    SHA1_ROUNDS(0, 20, (b & c) | (~b & d), 0x5A827999u)
    SHA1_ROUNDS(20, 40, b ^ c ^ d, 0x6ED9EBA1u)
    SHA1_ROUNDS(40, 60, (b & c) | (b & d) | (c & d), 0x8F1BBCDCu)
    SHA1_ROUNDS(60, 80, b ^ c ^ d, 0xCA62C1D6u)
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

/* The same compression with the CPU's SHA instructions (x86-64 with SHA, SSSE3 and
 * SSE4.1, checked at import: sha1_block points to it then). Four rounds a step; each step
 * also prepares the message words of the steps after it, as Intel's reference code does. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_SHA_NI 1
#include <cpuid.h>
#include <immintrin.h>

#define SHA_STEP(k)                                                                      \
    do {                                                                                 \
        if ((k) < 4)                                                                     \
            m[(k)] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * (k))),  \
                                      order);                                            \
        e[(k) & 1] = (k) == 0 ? _mm_add_epi32(e[0], m[0])                                \
                              : _mm_sha1nexte_epu32(e[(k) & 1], m[(k) % 4]);             \
        e[((k) + 1) & 1] = abcd;                                                         \
        if ((k) >= 3 && (k) <= 18)                                                       \
            m[((k) + 1) % 4] = _mm_sha1msg2_epu32(m[((k) + 1) % 4], m[(k) % 4]);         \
        abcd = _mm_sha1rnds4_epu32(abcd, e[(k) & 1], (k) / 5);                           \
        if ((k) >= 1 && (k) <= 16)                                                       \
            m[((k) + 3) % 4] = _mm_sha1msg1_epu32(m[((k) + 3) % 4], m[(k) % 4]);         \
        if ((k) >= 2 && (k) <= 17)                                                       \
            m[((k) + 2) % 4] = _mm_xor_si128(m[((k) + 2) % 4], m[(k) % 4]);              \
    } while (0)

__attribute__((target("sha,ssse3,sse4.1"))) static void sha1_compress_ni(uint32_t h[5],
                                                                       const unsigned char *p) {
    const __m128i order = _mm_set_epi64x(0x0001020304050607LL, 0x08090a0b0c0d0e0fLL);
    __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)h), 0x1B);
    __m128i e[2] = {_mm_set_epi32((int)h[4], 0, 0, 0), _mm_setzero_si128()};
    const __m128i abcd_saved = abcd, e_saved = e[0];
    __m128i m[4];
    SHA_STEP(0); SHA_STEP(1); SHA_STEP(2); SHA_STEP(3); SHA_STEP(4);
    SHA_STEP(5); SHA_STEP(6); SHA_STEP(7); SHA_STEP(8); SHA_STEP(9);
    SHA_STEP(10); SHA_STEP(11); SHA_STEP(12); SHA_STEP(13); SHA_STEP(14);
    SHA_STEP(15); SHA_STEP(16); SHA_STEP(17); SHA_STEP(18); SHA_STEP(19);
    e[0] = _mm_sha1nexte_epu32(e[0], e_saved);
    abcd = _mm_add_epi32(abcd, abcd_saved);
    _mm_storeu_si128((__m128i *)h, _mm_shuffle_epi32(abcd, 0x1B));
    h[4] = (uint32_t)_mm_extract_epi32(e[0], 3);
}
#undef SHA_STEP

static int cpu_has_sha(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSSE3) || !(c & bit_SSE4_1)) return 0;
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b >> 29) & 1; /* SHA */
}
#endif

/* The compression in use: the CPU's instructions when it has them. */
static void (*sha1_block)(uint32_t h[5], const unsigned char *p) = sha1_compress;

static void sha1_init(Sha1 *s) {
    s->h[0] = 0x67452301u;
    s->h[1] = 0xEFCDAB89u;
    s->h[2] = 0x98BADCFEu;
    s->h[3] = 0x10325476u;
    s->h[4] = 0xC3D2E1F0u;
    s->length = 0;
    s->used = 0;
}

static void sha1_update(Sha1 *s, const unsigned char *p, size_t n) {
    s->length += n;
    while (n > 0) {
        size_t take = 64 - s->used < n ? 64 - s->used : n;
        memcpy(s->block + s->used, p, take);
        s->used += take;
        p += take;
        n -= take;
        if (s->used == 64) {
            sha1_block(s->h, s->block);
            s->used = 0;
        }
    }
}

static void sha1_final(Sha1 *s, unsigned char out[20]) {
    uint64_t bits = s->length * 8;
    s->block[s->used++] = 0x80;
    if (s->used > 56) {
        memset(s->block + s->used, 0, 64 - s->used);
        sha1_block(s->h, s->block);
        s->used = 0;
    }
    memset(s->block + s->used, 0, 56 - s->used);
    for (int i = 0; i < 8; i++) s->block[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
    sha1_block(s->h, s->block);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (unsigned char)(s->h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(s->h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(s->h[i] >> 8);
        out[4 * i + 3] = (unsigned char)s->h[i];
    }
}

static const char HEX[] = "0123456789abcdef";

/* ---- an output buffer: on the stack, on the heap past 1 KB ------------------------ */

typedef struct {
    char *data;
    size_t len;
    size_t cap;
    char stack[1024];
} Out;

static int out_reserve(Out *o, size_t more) {
    if (o->len + more <= o->cap) return 0;
    size_t cap = o->cap * 2;
    while (cap < o->len + more) cap *= 2;
    char *grown;
    if (o->data == o->stack) {
        grown = PyMem_Malloc(cap);
        if (grown != NULL) memcpy(grown, o->data, o->len);
    } else {
        grown = PyMem_Realloc(o->data, cap);
    }
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    o->data = grown;
    o->cap = cap;
    return 0;
}

static int out_raw(Out *o, const char *s, size_t n) {
    if (out_reserve(o, n) < 0) return -1;
    memcpy(o->data + o->len, s, n);
    o->len += n;
    return 0;
}

#define OUT_LITERAL(o, s) out_raw((o), (s), sizeof(s) - 1)

/* The UUID v5 text of SHA-1(prefix + "<length>:" + text + "|" + tail); `length` counts
 * the code points of `text` (UTF-8, `size` bytes). */
static PyObject *uuid_of(PyObject *prefix, PyObject *tail, const char *text, Py_ssize_t size,
                         Py_ssize_t length) {
    char digits[24]; /* "<length>:", written backwards from the end */
    int n = 0;
    digits[sizeof digits - 1 - n++] = ':';
    do {
        digits[sizeof digits - 1 - n++] = (char)('0' + length % 10);
        length /= 10;
    } while (length > 0);
    Sha1 s;
    sha1_init(&s);
    sha1_update(&s, (const unsigned char *)PyBytes_AS_STRING(prefix),
                (size_t)PyBytes_GET_SIZE(prefix));
    sha1_update(&s, (const unsigned char *)digits + sizeof digits - n, (size_t)n);
    sha1_update(&s, (const unsigned char *)text, (size_t)size);
    sha1_update(&s, (const unsigned char *)"|", 1);
    sha1_update(&s, (const unsigned char *)PyBytes_AS_STRING(tail),
                (size_t)PyBytes_GET_SIZE(tail));
    unsigned char raw[20];
    sha1_final(&s, raw);
    char hex[32];
    for (int i = 0; i < 16; i++) {
        hex[2 * i] = HEX[raw[i] >> 4];
        hex[2 * i + 1] = HEX[raw[i] & 15];
    }
    hex[12] = '5';                       /* version 5 */
    hex[16] = "89ab"[(raw[8] >> 4) & 3]; /* the RFC 4122 variant */
    PyObject *uuid = PyUnicode_New(36, 127);
    if (uuid == NULL) return NULL;
    char *out = (char *)PyUnicode_DATA(uuid);
    static const int groups[5] = {8, 4, 4, 4, 12};
    for (int g = 0, from = 0, to = 0; g < 5; g++) {
        if (g) out[to++] = '-';
        memcpy(out + to, hex + from, (size_t)groups[g]);
        to += groups[g];
        from += groups[g];
    }
    return uuid;
}

static int id_arguments(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t wanted) {
    if (nargs == wanted && PyBytes_Check(args[0]) && PyBytes_Check(args[1]) &&
        PyUnicode_Check(args[2]) && (wanted == 3 || args[3] == Py_None || PyDict_Check(args[3])))
        return 0;
    PyErr_SetString(PyExc_TypeError, wanted == 3
                                         ? "fact_id(prefix: bytes, tail: bytes, position: str)"
                                         : "row_fact_id(prefix: bytes, tail: bytes, "
                                           "position: str, key: dict | None)");
    return -1;
}

/* Raise the UnicodeEncodeError that str.encode() raises over f"{length}:{text}|", the text
 * the Python code encodes: the same message, with the same positions. */
static PyObject *raise_unencodable(Py_ssize_t length, PyObject *text) {
    PyObject *whole = PyUnicode_FromFormat("%zd:%U|", length, text);
    if (whole == NULL) return NULL;
    PyObject *encoded = PyUnicode_AsUTF8String(whole); /* fails: `text` has a lone surrogate */
    Py_DECREF(whole);
    if (encoded != NULL) {
        Py_DECREF(encoded);
        PyErr_SetString(PyExc_SystemError, "a fact id's text was found unencodable, yet is not");
    }
    return NULL;
}

/* The id of `text`, `length` code points long (the length Python measures). */
static PyObject *uuid_of_text(PyObject *prefix, PyObject *tail, PyObject *text,
                              Py_ssize_t length) {
    Py_ssize_t size;
    const char *utf8 = PyUnicode_AsUTF8AndSize(text, &size);
    if (utf8 != NULL) return uuid_of(prefix, tail, utf8, size, length);
    if (PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) { /* a lone surrogate */
        PyErr_Clear();
        return raise_unencodable(length, text);
    }
    return NULL;
}

/* fact_id(prefix: bytes, tail: bytes, position: str) -> str */
static PyObject *fact_id(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs) {
    if (id_arguments(args, nargs, 3) < 0) return NULL;
    PyObject *position = args[2];
    if (PyUnicode_CheckExact(position))
        return uuid_of_text(args[0], args[1], position, PyUnicode_GET_LENGTH(position));
    /* a str subclass: f"{len(position)}:{position}|" calls its __len__, then its __format__ */
    Py_ssize_t length = PyObject_Size(position);
    if (length < 0) return NULL;
    PyObject *text = PyObject_Format(position, NULL);
    if (text == NULL) return NULL;
    PyObject *uuid = uuid_of_text(args[0], args[1], text, length);
    Py_DECREF(text);
    return uuid;
}

/* The text a row's fact id is made of, `position:key`, as UTF-8 with its code points
 * counted. A lone surrogate is kept (as "surrogatepass" writes it) and noted: Python
 * raises only once the whole text is made, so the error is raised then, over all of it. */
typedef struct {
    Out out;
    Py_ssize_t length;
    int unencodable;
} RowText;

/* Append `text` (a str). */
static int append_text(RowText *t, PyObject *text) {
    Py_ssize_t size;
    const char *utf8 = PyUnicode_AsUTF8AndSize(text, &size);
    t->length += PyUnicode_GET_LENGTH(text);
    if (utf8 != NULL) return out_raw(&t->out, utf8, (size_t)size);
    if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) return -1;
    PyErr_Clear();
    t->unencodable = 1;
    PyObject *kept = PyUnicode_AsEncodedString(text, "utf-8", "surrogatepass");
    if (kept == NULL) return -1;
    int rc = out_raw(&t->out, PyBytes_AS_STRING(kept), (size_t)PyBytes_GET_SIZE(kept));
    Py_DECREF(kept);
    return rc;
}

/* Append `value` as an f-string's {value} writes it. */
static int append_formatted(RowText *t, PyObject *value) {
    PyObject *text = PyObject_Format(value, NULL);
    if (text == NULL) return -1;
    int rc = append_text(t, text);
    Py_DECREF(text);
    return rc;
}

static int append_separator(RowText *t, char separator) {
    t->length += 1;
    return out_raw(&t->out, &separator, 1);
}

/* f"{name}={value}": the name formatted first, then the value. */
static int append_pair(RowText *t, PyObject *name, PyObject *value) {
    if (append_formatted(t, name) < 0 || append_separator(t, '=') < 0) return -1;
    return append_formatted(t, value);
}

/* The one pair of a one-column key, as `for name, value in key.items()` reads it: both
 * taken before either is formatted. */
static int append_only_pair(RowText *t, PyObject *key) {
    Py_ssize_t at = 0;
    PyObject *name, *value;
    if (!PyDict_Next(key, &at, &name, &value)) return 0;
    Py_INCREF(name); /* formatting may run code that changes the key */
    Py_INCREF(value);
    int rc = append_pair(t, name, value);
    Py_DECREF(name);
    Py_DECREF(value);
    return rc;
}

/* The pairs in name order, each as f"{name}={key[name]}" writes it: the name formatted
 * before its value is looked up, since formatting it may change the key. */
static int append_sorted_pairs(RowText *t, PyObject *key) {
    PyObject *names = PyDict_Keys(key);
    if (names == NULL) return -1;
    int rc = PyList_Sort(names);
    for (Py_ssize_t i = 0; rc == 0 && i < PyList_GET_SIZE(names); i++) {
        PyObject *name = PyList_GET_ITEM(names, i); /* the list, ours, keeps it */
        if ((i > 0 && append_separator(t, ',') < 0) || append_formatted(t, name) < 0 ||
            append_separator(t, '=') < 0) {
            rc = -1;
            break;
        }
        PyObject *value = PyObject_GetItem(key, name); /* a KeyError as key[name] raises */
        rc = value == NULL ? -1 : append_formatted(t, value);
        Py_XDECREF(value);
    }
    Py_DECREF(names);
    return rc;
}

/* The key as cdc_facts.changes.key_text() writes it. A dict subclass may answer len(),
 * items() or [] its own way: key_text itself writes that one. */
static int append_key(RowText *t, PyObject *key) {
    if (PyDict_CheckExact(key))
        return PyDict_GET_SIZE(key) == 1 ? append_only_pair(t, key) : append_sorted_pairs(t, key);
    static PyObject *key_text;
    if (key_text == NULL) {
        PyObject *changes = PyImport_ImportModule("cdc_facts.changes");
        if (changes == NULL) return -1;
        key_text = PyObject_GetAttrString(changes, "key_text");
        Py_DECREF(changes);
        if (key_text == NULL) return -1;
    }
    PyObject *text = PyObject_CallOneArg(key_text, key);
    if (text == NULL) return -1;
    int rc = append_formatted(t, text);
    Py_DECREF(text);
    return rc;
}

/* row_fact_id(prefix, tail, position, key) -> str: the fact_id of f"{position}:{key_text}"
 * (cdc_facts.changes.with_key), or of the position alone when `key` is None or empty. */
static PyObject *row_fact_id(PyObject *Py_UNUSED(module), PyObject *const *args,
                             Py_ssize_t nargs) {
    if (id_arguments(args, nargs, 4) < 0) return NULL;
    PyObject *key = args[3];
    int has_key = key == Py_None ? 0 : PyObject_IsTrue(key);
    if (has_key <= 0) return has_key < 0 ? NULL : fact_id(NULL, args, 3);
    RowText t;
    t.out.data = t.out.stack;
    t.out.len = 0;
    t.out.cap = sizeof t.out.stack;
    t.length = 0;
    t.unencodable = 0;
    PyObject *result = NULL;
    if (append_formatted(&t, args[2]) == 0 && append_separator(&t, ':') == 0 &&
        append_key(&t, key) == 0) {
        if (!t.unencodable) {
            result = uuid_of(args[0], args[1], t.out.data, (Py_ssize_t)t.out.len, t.length);
        } else {
            PyObject *text = PyUnicode_DecodeUTF8(t.out.data, (Py_ssize_t)t.out.len,
                                                  "surrogatepass");
            if (text != NULL) raise_unencodable(t.length, text);
            Py_XDECREF(text);
        }
    }
    if (t.out.data != t.out.stack) PyMem_Free(t.out.data);
    return result;
}

/* ---- the event's JSON -------------------------------------------------------------- */

/* The bytes a JSON string cannot hold as they are: '"', '\\' and the control bytes. */
static unsigned char needs_escape[256];

static void init_escapes(void) {
    for (int c = 0; c < 0x20; c++) needs_escape[c] = 1;
    needs_escape['"'] = needs_escape['\\'] = 1;
}

static int out_escaped(Out *o, const unsigned char *s, Py_ssize_t n) {
    if (out_reserve(o, (size_t)n * 6 + 1) < 0) return -1;
    char *w = o->data + o->len;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (!needs_escape[c]) {
            *w++ = (char)c;
            continue;
        }
        *w++ = '\\';
        switch (c) {
        case '"': *w++ = '"'; break;
        case '\\': *w++ = '\\'; break;
        case '\b': *w++ = 'b'; break;
        case '\t': *w++ = 't'; break;
        case '\n': *w++ = 'n'; break;
        case '\f': *w++ = 'f'; break;
        case '\r': *w++ = 'r'; break;
        default:
            *w++ = 'u';
            *w++ = '0';
            *w++ = '0';
            *w++ = HEX[c >> 4];
            *w++ = HEX[c & 15];
        }
    }
    *w++ = '"';
    o->len = (size_t)(w - o->data);
    return 0;
}

/* A str as orjson writes it: '"', '\\' and control bytes escaped, the rest as UTF-8. */
static int out_string(Out *o, PyObject *text) {
    Py_ssize_t n;
    const unsigned char *s;
    if (PyUnicode_IS_COMPACT_ASCII(text)) {
        s = (const unsigned char *)PyUnicode_DATA(text);
        n = PyUnicode_GET_LENGTH(text);
    } else if ((s = (const unsigned char *)PyUnicode_AsUTF8AndSize(text, &n)) == NULL) {
        return -1;
    }
    if (out_reserve(o, (size_t)n + 2) < 0) return -1;
    char *w = o->data + o->len;
    *w++ = '"';
    Py_ssize_t i = 0;
#if defined(__SSE2__)
    /* sixteen bytes at a time, copied as they are scanned, up to the first to escape */
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'),
                  control = _mm_set1_epi8(0x1f);
    while (n - i >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(s + i));
        __m128i hit = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
            _mm_cmpeq_epi8(_mm_max_epu8(v, control), control)); /* v <= 0x1f */
        _mm_storeu_si128((__m128i *)w, v); /* within the n + 2 reserved: i + 16 <= n */
        int mask = _mm_movemask_epi8(hit);
        if (mask != 0) {
            int k = __builtin_ctz((unsigned)mask);
            w += k;
            i += k;
            break;
        }
        w += 16;
        i += 16;
    }
#endif
    while (i < n && !needs_escape[s[i]]) *w++ = (char)s[i++];
    o->len = (size_t)(w - o->data);
    if (i < n) return out_escaped(o, s + i, n - i);
    o->data[o->len++] = '"';
    return 0;
}

static char *put_digits(char *w, int value, int width) {
    for (int i = width - 1; i >= 0; i--) {
        w[i] = (char)('0' + value % 10);
        value /= 10;
    }
    return w + width;
}

static char *put_date(char *w, PyObject *value) {
    w = put_digits(w, PyDateTime_GET_YEAR(value), 4);
    *w++ = '-';
    w = put_digits(w, PyDateTime_GET_MONTH(value), 2);
    *w++ = '-';
    return put_digits(w, PyDateTime_GET_DAY(value), 2);
}

static int out_date(Out *o, PyObject *value) {
    if (out_reserve(o, 12) < 0) return -1;
    char *w = o->data + o->len;
    *w++ = '"';
    w = put_date(w, value);
    *w++ = '"';
    o->len = (size_t)(w - o->data);
    return 0;
}

/* A UTC datetime as orjson writes it with OPT_UTC_Z: microseconds only when not 0. */
static int out_utc_time(Out *o, PyObject *value) {
    if (out_reserve(o, 32) < 0) return -1;
    char *w = o->data + o->len;
    *w++ = '"';
    w = put_date(w, value);
    *w++ = 'T';
    w = put_digits(w, PyDateTime_DATE_GET_HOUR(value), 2);
    *w++ = ':';
    w = put_digits(w, PyDateTime_DATE_GET_MINUTE(value), 2);
    *w++ = ':';
    w = put_digits(w, PyDateTime_DATE_GET_SECOND(value), 2);
    int micro = PyDateTime_DATE_GET_MICROSECOND(value);
    if (micro) {
        *w++ = '.';
        w = put_digits(w, micro, 6);
    }
    *w++ = 'Z';
    *w++ = '"';
    o->len = (size_t)(w - o->data);
    return 0;
}

static int out_integer(Out *o, long long number) {
    char buffer[24];
    char *w = buffer + sizeof buffer;
    unsigned long long magnitude = number < 0 ? 0ULL - (unsigned long long)number
                                              : (unsigned long long)number;
    do {
        *--w = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude);
    if (number < 0) *--w = '-';
    return out_raw(o, w, (size_t)(buffer + sizeof buffer - w));
}

static PyObject *decimal_class, *utc, *valid_extensions, *content_type, *fact_class;

/* Not written here: the general path takes the fact (1); an error was raised (-1). */
#define REFUSED 1

static int is_utc_time(PyObject *value) {
    return PyDateTime_CheckExact(value) && PyDateTime_DATE_GET_TZINFO(value) == utc;
}

static int out_decimal(Out *o, PyObject *value) {
    PyObject *text = PyObject_Str(value);
    if (text == NULL) return -1;
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(text, &n);
    int result = s == NULL ? -1 : 0;
    for (Py_ssize_t i = 0; result == 0 && i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '-'))
            result = REFUSED; /* an exponent, NaN or infinity: the general path's forms */
    if (result == 0) result = out_string(o, text);
    Py_DECREF(text);
    return result;
}

static int out_value(Out *o, PyObject *value) {
    if (PyUnicode_CheckExact(value)) return out_string(o, value);
    if (value == Py_None) return OUT_LITERAL(o, "null");
    if (value == Py_True) return OUT_LITERAL(o, "true");
    if (value == Py_False) return OUT_LITERAL(o, "false");
    if (PyLong_CheckExact(value)) {
        int overflow;
        long long number = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (overflow) return REFUSED;
        if (number == -1 && PyErr_Occurred()) return -1;
        return out_integer(o, number);
    }
    if ((PyObject *)Py_TYPE(value) == decimal_class) return out_decimal(o, value);
    if (is_utc_time(value)) return out_utc_time(o, value);
    if (PyDate_CheckExact(value)) return out_date(o, value);
    return REFUSED;
}

/* `,"name":` (given whole, as a literal) then the text; the status of the first to fail
 * (`||` alone would turn an error's -1 into REFUSED's 1). */
static int out_member(Out *o, const char *prefix, size_t n, PyObject *text) {
    int status = out_raw(o, prefix, n);
    return status ? status : out_string(o, text);
}

#define OUT_MEMBER(o, prefix, text) out_member((o), (prefix), sizeof(prefix) - 1, (text))

static int non_empty_str(PyObject *value) {
    return PyUnicode_CheckExact(value) && PyUnicode_GET_LENGTH(value) > 0;
}

static int out_extensions(Out *o, PyObject *extensions) {
    if (!PyDict_CheckExact(extensions)) return REFUSED;
    Py_ssize_t at = 0;
    PyObject *name, *value;
    while (PyDict_Next(extensions, &at, &name, &value)) {
        if (!PyUnicode_CheckExact(name) || !PyUnicode_CheckExact(value)) return REFUSED;
        int known = PySet_Contains(valid_extensions, name);
        if (known <= 0) return known < 0 ? -1 : REFUSED;
        int status;
        if ((status = OUT_LITERAL(o, ",")) || (status = out_string(o, name)) ||
            (status = OUT_LITERAL(o, ":")) || (status = out_string(o, value)))
            return status;
    }
    return 0;
}

static int out_data(Out *o, PyObject *data) {
    if (!PyDict_CheckExact(data)) return REFUSED;
    if (OUT_LITERAL(o, "{")) return -1;
    Py_ssize_t at = 0;
    PyObject *name, *value;
    int first = 1;
    while (PyDict_Next(data, &at, &name, &value)) {
        if (!PyUnicode_CheckExact(name)) return REFUSED;
        int status;
        if ((!first && (status = OUT_LITERAL(o, ","))) || (status = out_string(o, name)) ||
            (status = OUT_LITERAL(o, ":")) || (status = out_value(o, value)))
            return status;
        first = 0;
    }
    return OUT_LITERAL(o, "}");
}

enum {
    A_ID, A_SOURCE, A_TYPE, A_SUBJECT, A_TIME, A_DATA, A_EXTENSIONS, A_DATASCHEMA, A_TOPIC,
    A_RULE, A_COUNT
};

static int out_event(Out *o, PyObject *const *a) {
    int status;
    if ((status = OUT_LITERAL(o, "{\"specversion\":\"1.0\"")) ||
        (status = OUT_MEMBER(o, ",\"id\":", a[A_ID])) ||
        (status = OUT_MEMBER(o, ",\"source\":", a[A_SOURCE])) ||
        (status = OUT_MEMBER(o, ",\"type\":", a[A_TYPE])) ||
        (status = OUT_MEMBER(o, ",\"subject\":", a[A_SUBJECT])) ||
        (status = OUT_LITERAL(o, ",\"time\":")) || (status = out_utc_time(o, a[A_TIME])) ||
        (status = OUT_MEMBER(o, ",\"datacontenttype\":", content_type)) ||
        (status = out_extensions(o, a[A_EXTENSIONS])) ||
        (status = OUT_LITERAL(o, ",\"data\":")) || (status = out_data(o, a[A_DATA])))
        return status;
    return OUT_LITERAL(o, "}");
}

static int is_plain(PyObject *const *a) {
    return non_empty_str(a[A_ID]) && non_empty_str(a[A_SOURCE]) && non_empty_str(a[A_TYPE]) &&
           non_empty_str(a[A_SUBJECT]) && a[A_DATASCHEMA] == Py_None && is_utc_time(a[A_TIME]);
}

/* Where the Fact class keeps each attribute: its slots' offsets, learnt by configure(). */
static struct {
    int usable; /* 1: every attribute is an object slot of the class; 0: getattr instead */
    Py_ssize_t offsets[A_COUNT];
} fact_layout;

/* The offsets of the object slots that hold attributes `names` (count of them) of instances
 * of `type`: 1 when every one is such a slot of the class itself, else 0 (getattr then). */
static int member_offsets(PyObject *type, PyObject *const *names, int count,
                          Py_ssize_t *offsets) {
    PyObject *dict = ((PyTypeObject *)type)->tp_dict;
    for (int i = 0; i < count; i++) {
        PyObject *descr = PyDict_GetItemWithError(dict, names[i]); /* borrowed */
        if (descr == NULL) {
            PyErr_Clear();
            return 0;
        }
        if (!Py_IS_TYPE(descr, &PyMemberDescr_Type) ||
            PyDescr_TYPE(descr) != (PyTypeObject *)type)
            return 0;
        PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
        if (member->type != T_OBJECT_EX || member->offset < (Py_ssize_t)sizeof(PyObject) ||
            member->offset + (Py_ssize_t)sizeof(PyObject *) >
                ((PyTypeObject *)type)->tp_basicsize)
            return 0;
        offsets[i] = member->offset;
    }
    return 1;
}

static void learn_layout(PyObject *type, PyObject *const *names) {
    fact_layout.usable = member_offsets(type, names, A_COUNT, fact_layout.offsets);
}

/* The fact's attributes, as new references; 1 when one is unset (refused), -1 on error. */
static int attributes(PyObject *fact, PyObject *const *names, PyObject **a) {
    for (int i = 0; i < A_COUNT; i++) {
        if (fact_layout.usable) {
            a[i] = *(PyObject **)((char *)fact + fact_layout.offsets[i]);
            if (a[i] == NULL) return REFUSED; /* the general path raises AttributeError */
            Py_INCREF(a[i]);
        } else if ((a[i] = PyObject_GetAttr(fact, names[i])) == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_AttributeError)) return -1;
            PyErr_Clear(); /* unset, as above: refused alike */
            return REFUSED;
        }
    }
    return 0;
}

static PyObject *attribute_names[A_COUNT];

/* encode(fact) -> bytes | None */
static PyObject *encode(PyObject *Py_UNUSED(module), PyObject *fact) {
    if (fact_class == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "cdc_facts._facts.configure() was not called");
        return NULL;
    }
    if ((PyObject *)Py_TYPE(fact) != fact_class) Py_RETURN_NONE;
    PyObject *a[A_COUNT] = {NULL};
    PyObject *result = NULL;
    Out o;
    o.data = o.stack;
    o.len = 0;
    o.cap = sizeof o.stack;
    int status = attributes(fact, attribute_names, a);
    if (status == 0) status = is_plain(a) ? out_event(&o, a) : REFUSED;
    if (status == 0) {
        result = PyBytes_FromStringAndSize(o.data, (Py_ssize_t)o.len);
    } else if (status == REFUSED || PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
        /* refused, or a str that is not UTF-8: the general path writes or names it */
        PyErr_Clear();
        result = Py_None;
        Py_INCREF(result);
    }
    if (o.data != o.stack) PyMem_Free(o.data);
    for (int i = 0; i < A_COUNT; i++) Py_XDECREF(a[i]);
    return result;
}

/* configure(decimal, utc, extensions, datacontenttype, fact) */
static PyObject *configure(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 5 || !PyType_Check(args[0]) || !PyAnySet_Check(args[2]) ||
        !PyUnicode_Check(args[3]) || !PyType_Check(args[4])) {
        PyErr_SetString(PyExc_TypeError,
                        "configure(decimal: type, utc: tzinfo, extensions: set, "
                        "datacontenttype: str, fact: type)");
        return NULL;
    }
    PyObject **slots[5] = {&decimal_class, &utc, &valid_extensions, &content_type, &fact_class};
    for (int i = 0; i < 5; i++) {
        Py_INCREF(args[i]);
        Py_XSETREF(*slots[i], args[i]);
    }
    learn_layout(fact_class, attribute_names);
    Py_RETURN_NONE;
}


/* ---- the fact itself ------------------------------------------------------------------ */

enum { C_OP, C_SOURCE, C_KEY, C_TRANSACTION, C_AFTER, C_POSITION, C_COUNT };
static PyObject *change_attributes[C_COUNT]; /* interned names of Change attributes */

enum {
    T_LSN, T_TXID, T_ID, T_GTID, T_LSN_PREFIX, T_TRUE, T_CDCOP, T_CDCPOSITION, T_CDCRULE,
    T_CDCTXID, T_CDCSNAPSHOT, T_COUNT
};
static PyObject *text[T_COUNT]; /* interned texts */

/* source.get(name) as a new reference, None when absent; NULL with an error set on failure.
 * New references: reading a value's truth or text may run code that changes the dict. */
static PyObject *source_get(PyObject *source, PyObject *name) {
    PyObject *value = PyDict_GetItemWithError(source, name);
    if (value == NULL && PyErr_Occurred()) return NULL;
    return Py_NewRef(value != NULL ? value : Py_None);
}

/* The position a fact names: f"lsn:{lsn}" for a PostgreSQL change that is not a snapshot
 * read, else Change.position (a new reference). */
static PyObject *position_of(PyObject *change, PyObject *source, int is_read) {
    PyObject *lsn = source_get(source, text[T_LSN]);
    if (lsn == NULL) return NULL;
    if (lsn == Py_None || is_read) {
        Py_DECREF(lsn);
        return PyObject_GetAttr(change, change_attributes[C_POSITION]);
    }
    PyObject *formatted = PyObject_Format(lsn, NULL);
    Py_DECREF(lsn);
    if (formatted == NULL) return NULL;
    PyObject *position = PyUnicode_Concat(text[T_LSN_PREFIX], formatted);
    Py_DECREF(formatted);
    return position;
}

/* `a or b`, as Python reads it (steals both references): `a` when it is true, else `b`. */
static PyObject *either(PyObject *a, PyObject *b) {
    int truth = PyObject_IsTrue(a);
    if (truth < 0) {
        Py_DECREF(a);
        Py_DECREF(b);
        return NULL;
    }
    Py_DECREF(truth ? b : a);
    return truth ? a : b;
}

/* The source transaction, as RulePlan._provenance reads it: source.txId, else the
 * transaction block's id, else source.gtid, as a new reference in `*out` (None for none).
 * REFUSED for a transaction block that is not a dict. */
static int transaction_of(PyObject *source, PyObject *transaction, PyObject **out) {
    PyObject *txid = source_get(source, text[T_TXID]);
    if (txid == NULL) return -1;
    int truth = PyObject_IsTrue(txid);
    if (truth != 0) {
        if (truth < 0) Py_CLEAR(txid);
        *out = txid;
        return truth < 0 ? -1 : 0;
    }
    Py_DECREF(txid);
    int has_block = PyObject_IsTrue(transaction);
    if (has_block < 0) return -1;
    if (has_block && !PyDict_CheckExact(transaction)) return REFUSED;
    PyObject *block_id = has_block ? source_get(transaction, text[T_ID]) : Py_NewRef(Py_None);
    if (block_id == NULL) return -1;
    PyObject *gtid = source_get(source, text[T_GTID]);
    if (gtid == NULL) {
        Py_DECREF(block_id);
        return -1;
    }
    *out = either(block_id, gtid);
    return *out == NULL ? -1 : 0;
}

/* The CloudEvents extensions of RulePlan._provenance. */
static PyObject *extensions_of(PyObject *op, PyObject *position, PyObject *rule,
                               PyObject *txid, int is_read) {
    PyObject *extensions = PyDict_New();
    if (extensions == NULL) return NULL;
    if (PyDict_SetItem(extensions, text[T_CDCOP], op) < 0 ||
        PyDict_SetItem(extensions, text[T_CDCPOSITION], position) < 0 ||
        PyDict_SetItem(extensions, text[T_CDCRULE], rule) < 0)
        goto fail;
    if (txid != Py_None) {
        PyObject *txid_text = PyObject_Str(txid);
        if (txid_text == NULL) goto fail;
        int rc = PyDict_SetItem(extensions, text[T_CDCTXID], txid_text);
        Py_DECREF(txid_text);
        if (rc < 0) goto fail;
    }
    if (is_read && PyDict_SetItem(extensions, text[T_CDCSNAPSHOT], text[T_TRUE]) < 0) goto fail;
    return extensions;
fail:
    Py_DECREF(extensions);
    return NULL;
}

/* A Fact with these fields (new references taken), slot by slot when the class allows. */
static PyObject *new_fact(PyObject **fields) {
    if (!fact_layout.usable) {
        PyObject *args[A_COUNT] = {fields[A_ID], fields[A_TYPE], fields[A_SOURCE],
                                   fields[A_SUBJECT], fields[A_TIME], fields[A_DATA],
                                   fields[A_TOPIC], fields[A_RULE], fields[A_EXTENSIONS],
                                   fields[A_DATASCHEMA]};
        return PyObject_Vectorcall(fact_class, args, A_COUNT, NULL);
    }
    Py_ssize_t offsets[A_COUNT]; /* tp_alloc may run a finaliser that calls configure() */
    memcpy(offsets, fact_layout.offsets, sizeof offsets);
    PyTypeObject *cls = (PyTypeObject *)fact_class;
    PyObject *fact = cls->tp_alloc(cls, 0);
    if (fact == NULL) return NULL;
    for (int i = 0; i < A_COUNT; i++)
        *(PyObject **)((char *)fact + offsets[i]) = Py_NewRef(fields[i]);
    return fact;
}

/* Where the class of the changes last seen keeps the attributes make_fact() reads. */
static struct {
    PyObject *type; /* that class (a strong reference), or NULL */
    int usable;     /* 1: every attribute is an object slot of the class; 0: getattr instead */
    Py_ssize_t offsets[C_COUNT - 1];
} change_layout;

/* The first `count` of change.op, .source, .key, .transaction and .after into c (new
 * references): read from their slots as the member descriptors read them, without a
 * getattr each; 0 with an error set. */
static int change_attributes_of(PyObject *change, PyObject **c, int count) {
    PyObject *type = (PyObject *)Py_TYPE(change);
    if (change_layout.type != type) {
        Py_XSETREF(change_layout.type, Py_NewRef(type));
        change_layout.usable =
            member_offsets(type, change_attributes, C_COUNT - 1, change_layout.offsets);
    }
    Py_ssize_t offsets[C_COUNT - 1]; /* a getattr below may run code that learns another */
    int usable = change_layout.usable;
    memcpy(offsets, change_layout.offsets, sizeof offsets);
    for (int i = 0; i < count; i++) {
        PyObject *slot = usable ? *(PyObject **)((char *)change + offsets[i]) : NULL;
        c[i] = slot != NULL ? Py_NewRef(slot) /* unset: getattr raises AttributeError */
                            : PyObject_GetAttr(change, change_attributes[i]);
        if (c[i] == NULL) return 0;
    }
    return 1;
}

/* The fact of `change`, whose attributes are `c`, as make_fact() makes it: a new
 * reference, None (a new reference) when refused, NULL with an error set. */
static PyObject *fact_of(PyObject *rule, PyObject *change, PyObject *const *c,
                         PyObject *subject, PyObject *time, PyObject *data) {
    PyObject *op = c[C_OP], *source = c[C_SOURCE], *key = c[C_KEY];
    PyObject *position = NULL, *id = NULL, *txid = NULL, *extensions = NULL, *result = NULL;
    if (!PyUnicode_CheckExact(op) || !PyDict_CheckExact(source) ||
        (key != Py_None && !PyDict_CheckExact(key)))
        goto refused;
    int is_read = PyUnicode_CompareWithASCIIString(op, "r") == 0;
    if ((position = position_of(change, source, is_read)) == NULL) goto done;
    PyObject *id_args[4] = {PyTuple_GET_ITEM(rule, 0), PyTuple_GET_ITEM(rule, 1), position,
                            is_read ? Py_None : key};
    if ((id = row_fact_id(NULL, id_args, 4)) == NULL) goto done;
    int status = transaction_of(source, c[C_TRANSACTION], &txid);
    if (status == REFUSED) goto refused;
    if (status < 0) goto done;
    PyObject *fact_type = PyTuple_GET_ITEM(rule, 2);
    if ((extensions = extensions_of(op, position, fact_type, txid, is_read)) == NULL) goto done;
    PyObject *fields[A_COUNT];
    fields[A_ID] = id;
    fields[A_TYPE] = fact_type;
    fields[A_SOURCE] = PyTuple_GET_ITEM(rule, 3);
    fields[A_SUBJECT] = subject;
    fields[A_TIME] = time;
    fields[A_DATA] = data;
    fields[A_TOPIC] = PyTuple_GET_ITEM(rule, 4);
    fields[A_RULE] = fact_type;
    fields[A_EXTENSIONS] = extensions;
    fields[A_DATASCHEMA] = Py_None;
    result = new_fact(fields);
    goto done;
refused:
    result = Py_NewRef(Py_None);
done:
    Py_XDECREF(position);
    Py_XDECREF(id);
    Py_XDECREF(txid);
    Py_XDECREF(extensions);
    return result;
}

static int is_rule(PyObject *rule) {
    return PyTuple_CheckExact(rule) && PyTuple_GET_SIZE(rule) == 5;
}

/* make_fact(rule, change, subject, time, data) -> Fact | None: the end of RulePlan.build.
 * `rule` is (prefix, tail, fact type, CloudEvents source, topic). None hands the change back
 * to the Python code: an op that is not a str, a source that is not a dict, a key that is
 * neither None nor a dict, a transaction block that is not a dict. */
static PyObject *make_fact(PyObject *Py_UNUSED(module), PyObject *const *args,
                           Py_ssize_t nargs) {
    if (fact_class == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "cdc_facts._facts.configure() was not called");
        return NULL;
    }
    if (nargs != 5 || !is_rule(args[0])) {
        PyErr_SetString(PyExc_TypeError, "make_fact(rule: tuple of 5, change, subject, time, "
                                         "data)");
        return NULL;
    }
    PyObject *c[C_COUNT - 1] = {NULL};
    PyObject *result = NULL;
    if (change_attributes_of(args[1], c, C_AFTER)) /* all but .after, which it never reads */
        result = fact_of(args[0], args[1], c, args[2], args[3], args[4]);
    for (int i = 0; i < C_COUNT - 1; i++) Py_XDECREF(c[i]);
    return result;
}

/* ---- the whole of RulePlan.build, for the common shapes -------------------------------- */

/* build_fact's plan: what RulePlan.build reads, as facts.compiled_fact_builder() packs it. */
enum {
    B_RULE,        /* make_fact's rule tuple */
    B_KEY_COLUMN,  /* str: the key is after.<column>; None: call B_KEY */
    B_KEY,         /* the key's evaluator */
    B_TIME_COLUMN, /* as B_KEY_COLUMN, for occurred_at */
    B_TIME,        /* occurred_at's evaluator; None: the commit time (source.ts_ms) */
    B_EPOCH,       /* 1970-01-01 in UTC */
    B_MILLISECOND, /* timedelta(milliseconds=1) */
    B_UNKNOWN,     /* cdc_facts.types.UNKNOWN */
    B_FIELDS,      /* tuple of (name, column, evaluate, exact class, kind, nullable) */
    B_COUNT
};
enum { F_NAME, F_COLUMN, F_EVALUATE, F_EXACT, F_KIND, F_NULLABLE, F_COUNT };
/* How a value of another class than the field's exact class is converted here. */
enum { KIND_NONE, KIND_DECIMAL, KIND_TIMESTAMP };

static PyObject *fromisoformat_name, *is_finite_name, *ts_ms_name, *datetime_class;

/* As RulePlan.build reads an expression: after.<column> when it is just that and the
 * change has an after image (absent: `unknown`), else evaluate(change). New reference;
 * NULL with the evaluator's error set. */
static PyObject *read_value(PyObject *after, PyObject *column, PyObject *evaluate,
                            PyObject *change, PyObject *unknown) {
    if (column == Py_None || after == Py_None) return PyObject_CallOneArg(evaluate, change);
    PyObject *value = PyDict_GetItemWithError(after, column);
    if (value == NULL && PyErr_Occurred()) return NULL;
    return Py_NewRef(value != NULL ? value : unknown);
}

/* Whether str.strip() would leave `text` as it is, and it is not empty. */
static int is_stripped(PyObject *text) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    if (n == 0) return 0;
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    return !Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, 0)) &&
           !Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, n - 1));
}

/* 1 when `value` is a finite Decimal, 0 when not, -1 on error. */
static int is_finite_decimal(PyObject *value) {
    PyObject *finite = PyObject_CallMethodNoArgs(value, is_finite_name);
    if (finite == NULL) return -1;
    int truth = finite == Py_True;
    Py_DECREF(finite);
    return truth;
}

/* `value` as a datetime in UTC, as contracts._to_timestamp converts an ISO text or keeps a
 * datetime in UTC; NULL (no error) for anything else, left to the Python code. Steals. */
static PyObject *utc_time(PyObject *value) {
    PyObject *converted = NULL;
    if (PyUnicode_CheckExact(value) && is_stripped(value))
        converted = PyObject_CallMethodOneArg(datetime_class, fromisoformat_name, value);
    else if (PyDateTime_CheckExact(value))
        converted = Py_NewRef(value);
    if (converted != NULL && !is_utc_time(converted)) Py_CLEAR(converted);
    Py_DECREF(value);
    PyErr_Clear(); /* a text that does not convert: the Python code names the problem */
    return converted;
}

/* `value` as a finite Decimal, as contracts._to_decimal converts a text or keeps a finite
 * Decimal; NULL (no error) for anything else, left to the Python code. Steals. */
static PyObject *finite_decimal(PyObject *value) {
    PyObject *converted = NULL;
    if (PyUnicode_CheckExact(value) && is_stripped(value))
        converted = PyObject_CallOneArg(decimal_class, value);
    else if ((PyObject *)Py_TYPE(value) == decimal_class)
        converted = Py_NewRef(value);
    if (converted != NULL && is_finite_decimal(converted) != 1) Py_CLEAR(converted);
    Py_DECREF(value);
    PyErr_Clear(); /* as above */
    return converted;
}

/* A field's value as the contract takes it without a check (a new reference), or NULL:
 * refused, with no error set (the Python code converts, checks or raises). Steals. */
static PyObject *settled(PyObject *value, PyObject *field) {
    if ((PyObject *)Py_TYPE(value) == PyTuple_GET_ITEM(field, F_EXACT) ||
        (value == Py_None && PyTuple_GET_ITEM(field, F_NULLABLE) == Py_True))
        return value;
    if (value != Py_None) {
        long kind = PyLong_AsLong(PyTuple_GET_ITEM(field, F_KIND));
        if (kind == KIND_DECIMAL) return finite_decimal(value);
        if (kind == KIND_TIMESTAMP) return utc_time(value);
        PyErr_Clear();
    }
    Py_DECREF(value);
    return NULL;
}

/* The fact's time: the commit time (source.ts_ms, an int) or occurred_at, a datetime in
 * UTC or its ISO text. New reference; NULL refused (no error) or failed (error set). */
static PyObject *time_of(PyObject *const *plan, PyObject *const *c, PyObject *change) {
    if (plan[B_TIME] == Py_None) {
        PyObject *millis = PyDict_GetItemWithError(c[C_SOURCE], ts_ms_name);
        if (millis == NULL || !PyLong_CheckExact(millis)) return NULL;
        Py_INCREF(millis);
        PyObject *delta = PyNumber_Multiply(plan[B_MILLISECOND], millis);
        Py_DECREF(millis);
        if (delta == NULL) return NULL;
        PyObject *time = PyNumber_Add(plan[B_EPOCH], delta);
        Py_DECREF(delta);
        return time;
    }
    PyObject *value = read_value(c[C_AFTER], plan[B_TIME_COLUMN], plan[B_TIME], change,
                                 plan[B_UNKNOWN]);
    return value == NULL ? NULL : utc_time(value);
}

/* The key as the fact's subject: a non-empty str, or the text of an int. New reference;
 * NULL refused (no error) or failed (error set). */
static PyObject *subject_of(PyObject *const *plan, PyObject *const *c, PyObject *change) {
    PyObject *key = read_value(c[C_AFTER], plan[B_KEY_COLUMN], plan[B_KEY], change,
                               plan[B_UNKNOWN]);
    if (key == NULL) return NULL;
    PyObject *subject = NULL;
    if (PyUnicode_CheckExact(key) && PyUnicode_GET_LENGTH(key) > 0)
        subject = Py_NewRef(key);
    else if (PyLong_CheckExact(key))
        subject = PyObject_Str(key);
    Py_DECREF(key);
    return subject;
}

/* The data of the fact, field by field in order. New reference; NULL refused (no error)
 * or failed (error set). */
static PyObject *data_of(PyObject *const *plan, PyObject *const *c, PyObject *change) {
    PyObject *fields = plan[B_FIELDS];
    PyObject *data = PyDict_New();
    if (data == NULL) return NULL;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(fields); i++) {
        PyObject *field = PyTuple_GET_ITEM(fields, i);
        PyObject *value = read_value(c[C_AFTER], PyTuple_GET_ITEM(field, F_COLUMN),
                                     PyTuple_GET_ITEM(field, F_EVALUATE), change,
                                     plan[B_UNKNOWN]);
        if (value == NULL || (value = settled(value, field)) == NULL) goto fail;
        int rc = PyDict_SetItem(data, PyTuple_GET_ITEM(field, F_NAME), value);
        Py_DECREF(value);
        if (rc < 0) goto fail;
    }
    return data;
fail:
    Py_DECREF(data);
    return NULL;
}

static int is_plan(PyObject *plan) {
    if (!PyTuple_CheckExact(plan) || PyTuple_GET_SIZE(plan) != B_COUNT ||
        !is_rule(PyTuple_GET_ITEM(plan, B_RULE)) ||
        !PyTuple_CheckExact(PyTuple_GET_ITEM(plan, B_FIELDS)))
        return 0;
    PyObject *fields = PyTuple_GET_ITEM(plan, B_FIELDS);
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(fields); i++) {
        PyObject *field = PyTuple_GET_ITEM(fields, i);
        if (!PyTuple_CheckExact(field) || PyTuple_GET_SIZE(field) != F_COUNT ||
            !PyLong_CheckExact(PyTuple_GET_ITEM(field, F_KIND)))
            return 0;
    }
    return 1;
}

/* build_fact(plan, change) -> Fact | None: RulePlan.build whole, for a change whose key,
 * data and time need nothing but reading and the conversions of decimal and timestamp
 * text; None hands it to the Python code, which then does everything again and names any
 * problem. An evaluator's error is raised as the Python code would raise it. */
static PyObject *build_fact(PyObject *Py_UNUSED(module), PyObject *const *args,
                            Py_ssize_t nargs) {
    if (fact_class == NULL || datetime_class == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "cdc_facts._facts.configure() was not called");
        return NULL;
    }
    if (nargs != 2 || !is_plan(args[0])) {
        PyErr_SetString(PyExc_TypeError, "build_fact(plan, change)");
        return NULL;
    }
    PyObject *const *plan = &PyTuple_GET_ITEM(args[0], 0);
    PyObject *change = args[1];
    PyObject *c[C_COUNT - 1] = {NULL};
    PyObject *subject = NULL, *data = NULL, *time = NULL, *result = NULL;
    if (!change_attributes_of(change, c, C_COUNT - 1)) goto done;
    if (!PyDict_CheckExact(c[C_SOURCE]) || (c[C_AFTER] != Py_None && !PyDict_CheckExact(c[C_AFTER])))
        goto refused;
    if ((subject = subject_of(plan, c, change)) == NULL ||
        (data = data_of(plan, c, change)) == NULL ||
        (time = time_of(plan, c, change)) == NULL) {
        if (PyErr_Occurred()) goto done;
        goto refused;
    }
    result = fact_of(plan[B_RULE], change, c, subject, time, data);
    goto done;
refused:
    result = Py_NewRef(Py_None);
done:
    for (int i = 0; i < C_COUNT - 1; i++) Py_XDECREF(c[i]);
    Py_XDECREF(subject);
    Py_XDECREF(data);
    Py_XDECREF(time);
    return result;
}

/* ---- the rule loop of a table ---------------------------------------------------------- */

/* Whether the error set is one to hand back: an Exception (the Python code raises it again
 * when it runs the change), not an interrupt or an exit, which go on up. */
static int hand_back_error(void) {
    if (!PyErr_ExceptionMatches(PyExc_Exception)) return 0;
    PyErr_Clear();
    return 1;
}

/* run_rules(steps, change) -> list[Fact] | None: the loop of _TablePlan.translate, for
 * `steps` ((when, build_fact plan) for each rule, in file order): the facts of every rule
 * whose `when` is TRUE. None hands the change back to the Python loop, which does it all
 * again: a `when` that is not TRUE, FALSE or NULL (unknown, not a condition), an error of
 * a `when` or a builder, or a fact build_fact() hands back. */
static PyObject *run_rules(PyObject *Py_UNUSED(module), PyObject *const *args,
                           Py_ssize_t nargs) {
    if (nargs != 2 || !PyTuple_CheckExact(args[0])) {
        PyErr_SetString(PyExc_TypeError, "run_rules(steps: tuple, change)");
        return NULL;
    }
    PyObject *steps = args[0], *change = args[1];
    PyObject *facts = PyList_New(0);
    if (facts == NULL) return NULL;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(steps); i++) {
        PyObject *step = PyTuple_GET_ITEM(steps, i);
        if (!PyTuple_CheckExact(step) || PyTuple_GET_SIZE(step) != 2) {
            PyErr_SetString(PyExc_TypeError, "run_rules: each step is (when, plan)");
            goto fail;
        }
        PyObject *matched = PyObject_CallOneArg(PyTuple_GET_ITEM(step, 0), change);
        if (matched == NULL) goto error;
        Py_DECREF(matched); /* only its identity is used below: True, False, None */
        if (matched == Py_False || matched == Py_None) continue;
        if (matched != Py_True) goto hand_back;
        PyObject *build_args[2] = {PyTuple_GET_ITEM(step, 1), change};
        PyObject *fact = build_fact(NULL, build_args, 2);
        if (fact == NULL) goto error;
        if (fact == Py_None) {
            Py_DECREF(fact);
            goto hand_back;
        }
        int rc = PyList_Append(facts, fact);
        Py_DECREF(fact);
        if (rc < 0) goto fail;
    }
    return facts;
error:
    if (!hand_back_error()) goto fail;
hand_back:
    Py_DECREF(facts);
    Py_RETURN_NONE;
fail:
    Py_DECREF(facts);
    return NULL;
}

/* sha_instructions(use: bool | None) -> bool: whether ids are hashed with the CPU's SHA
 * instructions; `use` turns them off (False) or back on where the CPU has them (True). */
static PyObject *sha_instructions(PyObject *module, PyObject *use) {
    (void)module;
    if (use != Py_None) {
        int on = PyObject_IsTrue(use);
        if (on < 0) return NULL;
        sha1_block = sha1_compress;
#ifdef HAVE_SHA_NI
        if (on && cpu_has_sha()) sha1_block = sha1_compress_ni;
#endif
    }
    return PyBool_FromLong(sha1_block != sha1_compress);
}

static PyMethodDef methods[] = {
    {"sha_instructions", (PyCFunction)sha_instructions, METH_O,
     "sha_instructions(use) -> bool: hash ids with the CPU's SHA instructions (None: ask)"},
    {"fact_id", (PyCFunction)(void (*)(void))fact_id, METH_FASTCALL,
     "fact_id(prefix, tail, position) -> str: the UUID v5 of one fact"},
    {"row_fact_id", (PyCFunction)(void (*)(void))row_fact_id, METH_FASTCALL,
     "row_fact_id(prefix, tail, position, key) -> str: fact_id of the position with the key"},
    {"encode", (PyCFunction)encode, METH_O,
     "encode(fact) -> bytes | None: a plain fact as CloudEvents JSON"},
    {"make_fact", (PyCFunction)(void (*)(void))make_fact, METH_FASTCALL,
     "make_fact(rule, change, subject, time, data) -> Fact | None"},
    {"build_fact", (PyCFunction)(void (*)(void))build_fact, METH_FASTCALL,
     "build_fact(plan, change) -> Fact | None"},
    {"run_rules", (PyCFunction)(void (*)(void))run_rules, METH_FASTCALL,
     "run_rules(steps, change) -> list[Fact] | None"},
    {"configure", (PyCFunction)(void (*)(void))configure, METH_FASTCALL,
     "configure(decimal, utc, extensions, datacontenttype, fact)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_facts",
    "Fact ids and the CloudEvents JSON of plain facts, in C.", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__facts(void) {
#ifdef HAVE_SHA_NI
    if (cpu_has_sha()) sha1_block = sha1_compress_ni;
#endif
    PyDateTime_IMPORT;
    init_escapes();
    if (PyDateTimeAPI == NULL) return NULL;
    static const char *const names[A_COUNT] = {"id",   "source",     "type",       "subject",
                                               "time", "data",       "extensions", "dataschema",
                                               "topic", "rule"};
    for (int i = 0; i < A_COUNT; i++)
        if ((attribute_names[i] = PyUnicode_InternFromString(names[i])) == NULL) return NULL;
    static const char *const change_names[C_COUNT] = {"op",    "source", "key", "transaction",
                                                       "after", "position"};
    for (int i = 0; i < C_COUNT; i++)
        if ((change_attributes[i] = PyUnicode_InternFromString(change_names[i])) == NULL)
            return NULL;
    static const char *const texts[T_COUNT] = {"lsn", "txId", "id", "gtid", "lsn:", "true",
                                               "cdcop", "cdcposition", "cdcrule", "cdctxid",
                                               "cdcsnapshot"};
    for (int i = 0; i < T_COUNT; i++)
        if ((text[i] = PyUnicode_InternFromString(texts[i])) == NULL) return NULL;
    if ((fromisoformat_name = PyUnicode_InternFromString("fromisoformat")) == NULL ||
        (is_finite_name = PyUnicode_InternFromString("is_finite")) == NULL ||
        (ts_ms_name = PyUnicode_InternFromString("ts_ms")) == NULL)
        return NULL;
    datetime_class = (PyObject *)PyDateTimeAPI->DateTimeType;
    return PyModule_Create(&module_def);
}
