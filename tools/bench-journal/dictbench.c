// Dictionary strategies for codec-2 blocks with liblz4 1.9.4 (docs/journal-design.md,
// "Compression pipeline"): gcc -O2 -o /tmp/dictbench tools/bench-journal/dictbench.c \
//   /usr/lib/x86_64-linux-gnu/liblz4.a && /tmp/dictbench /tmp/bench-journal-cli-100/c.frames
// Per-block dictionary strategies with the system liblz4 1.9.4 on the 100 MB corpus's
// payloads cut into 64 KiB blocks; dictionary = first 1 KiB of each of the 64 blocks before.
#define LZ4_STATIC_LINKING_ONLY
#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(int argc,char**argv){
  FILE*f=fopen(argv[1],"rb"); size_t cap=110<<20; char*in=malloc(cap); size_t n=0;
  unsigned char h[12];
  while(fread(h,1,12,f)==12){unsigned l=h[0]|h[1]<<8|h[2]<<16|(unsigned)h[3]<<24; fread(in+n,1,l,f); n+=l;}
  const int B=65536; int nb=n/B; char*dst=malloc(LZ4_compressBound(B)); char*buf=malloc(65536+B);
  char dict[65536]; int dl=0; for(int k=0;k<64;k++){memcpy(dict+dl,in+k*B,1024);dl+=1024;}
  LZ4_stream_t*tmpl=LZ4_createStream(),*work=LZ4_createStream(),*dctx=LZ4_createStream();
  for(int rep=0;rep<3;rep++){
  double t; long long out;
  // 1 plain
  t=now();out=0;for(int b=64;b<nb;b++) out+=LZ4_compress_fast(in+(size_t)b*B,dst,B,LZ4_compressBound(B),1);
  printf("plain LZ4_compress_fast            %.3f s  %lld bytes\n",now()-t,out);
  // 2 prefix, template copy (the writer)
  memcpy(buf,dict,dl); LZ4_loadDict(tmpl,buf,dl);
  t=now();out=0;for(int b=64;b<nb;b++){memcpy(buf+dl,in+(size_t)b*B,B); memcpy(work,tmpl,sizeof *work); out+=LZ4_compress_fast_continue(work,buf+dl,dst,B,LZ4_compressBound(B),1);}
  printf("prefix, template memcpy            %.3f s  %lld bytes\n",now()-t,out);
  // 3 prefix, loadDict per block
  t=now();out=0;for(int b=64;b<nb;b++){memcpy(buf+dl,in+(size_t)b*B,B); LZ4_loadDict(work,buf,dl); out+=LZ4_compress_fast_continue(work,buf+dl,dst,B,LZ4_compressBound(B),1);}
  printf("prefix, LZ4_loadDict per block     %.3f s  %lld bytes\n",now()-t,out);
  // 4 extDict: template copy, block in place
  LZ4_loadDict(tmpl,dict,dl);
  t=now();out=0;for(int b=64;b<nb;b++){memcpy(work,tmpl,sizeof *work); out+=LZ4_compress_fast_continue(work,in+(size_t)b*B,dst,B,LZ4_compressBound(B),1);}
  printf("extDict, template memcpy           %.3f s  %lld bytes\n",now()-t,out);
  // 5 attach_dictionary (static lib only)
  LZ4_loadDict(dctx,dict,dl);
  t=now();out=0;for(int b=64;b<nb;b++){LZ4_resetStream_fast(work); LZ4_attach_dictionary(work,dctx); out+=LZ4_compress_fast_continue(work,in+(size_t)b*B,dst,B,LZ4_compressBound(B),1);}
  printf("LZ4_attach_dictionary (static)     %.3f s  %lld bytes\n",now()-t,out);
  // 6 no dict via extState_fastReset (static)
  t=now();out=0;for(int b=64;b<nb;b++){out+=LZ4_compress_fast_extState_fastReset(work,in+(size_t)b*B,dst,B,LZ4_compressBound(B),1);}
  printf("extState_fastReset, no dict (static) %.3f s  %lld bytes\n",now()-t,out);
  printf("--\n");}
  return 0;}
