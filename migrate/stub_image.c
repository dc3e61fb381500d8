/* migrate/stub_image.c — stand-in for the image codec (image.c) while it is
 * not in the tree: encoding and decoding fail with a named reason. */
#include <stdio.h>
#include "image.h"
int moj_img_encode(const moj_img_t *img, int level, void **out, size_t *outlen, char *err, size_t errlen) {
  (void)img; (void)level; *out = NULL; *outlen = 0;
  snprintf(err, errlen, "no image codec in this build");
  return -1;
}
int moj_img_decode(const void *buf, size_t len, moj_img_t **out, char *err, size_t errlen) {
  (void)buf; (void)len; *out = NULL;
  snprintf(err, errlen, "no image codec in this build");
  return -1;
}
void moj_img_free(moj_img_t *img) { (void)img; }
