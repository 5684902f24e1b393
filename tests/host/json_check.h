/*
 * json_check.h - parses JSON text in tests: a strict recursive-descent
 * parser that refuses anything malformed, and keeps every scalar under
 * its path ("errors.records[0].kind" -> "\"freed\"", numbers and literals
 * as written), so a test can look values up by path.
 */
#ifndef JSON_CHECK_H
#define JSON_CHECK_H

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_PATH_MAX 256

typedef struct json_flat {
    char **paths;
    char **values;
    size_t count, capacity;
} json_flat;

typedef struct json_parser {
    const char *at;
    json_flat *out;
    char path[JSON_PATH_MAX];
    int depth;
} json_parser;

static void json_skip_space(json_parser *p)
{
    while (*p->at == ' ' || *p->at == '\n' || *p->at == '\t' ||
           *p->at == '\r')
        ++p->at;
}

static char *json_copy(const char *from, size_t n)
{
    char *s = malloc(n + 1);
    if (s == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    memcpy(s, from, n);
    s[n] = '\0';
    return s;
}

static void json_keep(json_parser *p, const char *value, size_t n)
{
    json_flat *f = p->out;
    if (f->count == f->capacity) {
        f->capacity = f->capacity ? 2 * f->capacity : 64;
        f->paths = realloc(f->paths, f->capacity * sizeof *f->paths);
        f->values = realloc(f->values, f->capacity * sizeof *f->values);
        if (f->paths == NULL || f->values == NULL) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
    }
    f->paths[f->count] = json_copy(p->path, strlen(p->path));
    f->values[f->count++] = json_copy(value, n);
}

/* A string at p->at; its extent (quotes included) in *n. */
static int json_string(json_parser *p, size_t *n)
{
    const char *s = p->at;
    if (*s != '"')
        return 0;
    for (++s; *s != '"'; ++s) {
        if (*s == '\0' || (unsigned char)*s < 0x20)
            return 0;
        if (*s == '\\') {
            ++s;
            if (*s == 'u') {
                int i;
                for (i = 1; i <= 4; ++i)
                    if (!isxdigit((unsigned char)s[i]))
                        return 0;
                s += 4;
            } else if (strchr("\"\\/bfnrt", *s) == NULL || *s == '\0') {
                return 0;
            }
        }
    }
    *n = (size_t)(s + 1 - p->at);
    return 1;
}

static int json_number(json_parser *p, size_t *n)
{
    const char *s = p->at;
    if (*s == '-')
        ++s;
    if (*s == '0')
        ++s;
    else if (isdigit((unsigned char)*s))
        while (isdigit((unsigned char)*s))
            ++s;
    else
        return 0;
    if (*s == '.') {
        if (!isdigit((unsigned char)*++s))
            return 0;
        while (isdigit((unsigned char)*s))
            ++s;
    }
    if (*s == 'e' || *s == 'E') {
        ++s;
        if (*s == '+' || *s == '-')
            ++s;
        if (!isdigit((unsigned char)*s))
            return 0;
        while (isdigit((unsigned char)*s))
            ++s;
    }
    *n = (size_t)(s - p->at);
    return 1;
}

static int json_value(json_parser *p);

/* Appends a member or index to the path; returns the old length. */
static size_t json_push(json_parser *p, const char *format, const char *key,
                        size_t key_length, size_t index)
{
    size_t old = strlen(p->path);
    if (key != NULL)
        snprintf(p->path + old, sizeof p->path - old, format,
                 old ? "." : "", (int)key_length, key);
    else
        snprintf(p->path + old, sizeof p->path - old, "[%zu]", index);
    return old;
}

static int json_object(json_parser *p)
{
    size_t n;
    ++p->at;
    json_skip_space(p);
    if (*p->at == '}') {
        ++p->at;
        return 1;
    }
    for (;;) {
        const char *key;
        size_t old;
        json_skip_space(p);
        if (!json_string(p, &n))
            return 0;
        key = p->at + 1;
        p->at += n;
        json_skip_space(p);
        if (*p->at++ != ':')
            return 0;
        old = json_push(p, "%s%.*s", key, n - 2, 0);
        if (!json_value(p))
            return 0;
        p->path[old] = '\0';
        json_skip_space(p);
        if (*p->at == '}') {
            ++p->at;
            return 1;
        }
        if (*p->at++ != ',')
            return 0;
    }
}

static int json_array(json_parser *p)
{
    size_t index = 0;
    ++p->at;
    json_skip_space(p);
    if (*p->at == ']') {
        ++p->at;
        return 1;
    }
    for (;; ++index) {
        size_t old = json_push(p, NULL, NULL, 0, index);
        if (!json_value(p))
            return 0;
        p->path[old] = '\0';
        json_skip_space(p);
        if (*p->at == ']') {
            ++p->at;
            return 1;
        }
        if (*p->at++ != ',')
            return 0;
    }
}

static int json_value(json_parser *p)
{
    static const char *const literals[] = {"true", "false", "null"};
    size_t n, i;
    int ok;
    json_skip_space(p);
    if (++p->depth > 64)
        return 0;
    if (*p->at == '{') {
        ok = json_object(p);
    } else if (*p->at == '[') {
        ok = json_array(p);
    } else if (*p->at == '"') {
        ok = json_string(p, &n);
        if (ok) {
            json_keep(p, p->at, n);
            p->at += n;
        }
    } else {
        ok = 0;
        for (i = 0; i < 3 && !ok; ++i) {
            n = strlen(literals[i]);
            ok = strncmp(p->at, literals[i], n) == 0;
        }
        if (!ok)
            ok = json_number(p, &n);
        if (ok) {
            json_keep(p, p->at, n);
            p->at += n;
        }
    }
    --p->depth;
    return ok;
}

/* Parses `text` (one value, nothing after it but space); 0 if it is not
 * valid JSON. */
static int json_flatten(const char *text, json_flat *out)
{
    json_parser p;
    memset(out, 0, sizeof *out);
    memset(&p, 0, sizeof p);
    p.at = text;
    p.out = out;
    if (!json_value(&p))
        return 0;
    json_skip_space(&p);
    return *p.at == '\0';
}

/* The value at `path`, or NULL. */
static const char *json_get(const json_flat *f, const char *path)
{
    size_t i;
    for (i = 0; i < f->count; ++i)
        if (strcmp(f->paths[i], path) == 0)
            return f->values[i];
    return NULL;
}

/* The value at the path made from a format, or "" (never NULL). */
static const char *json_at(const json_flat *f, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static const char *json_at(const json_flat *f, const char *format, ...)
{
    char path[JSON_PATH_MAX];
    const char *v;
    va_list args;
    va_start(args, format);
    vsnprintf(path, sizeof path, format, args);
    va_end(args);
    v = json_get(f, path);
    return v ? v : "";
}

static void json_free(json_flat *f)
{
    size_t i;
    for (i = 0; i < f->count; ++i) {
        free(f->paths[i]);
        free(f->values[i]);
    }
    free(f->paths);
    free(f->values);
    memset(f, 0, sizeof *f);
}

#endif /* JSON_CHECK_H */
