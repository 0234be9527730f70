#include "onednn_deconv.h"

#include <oneapi/dnnl/dnnl.hpp>
#include <vector>

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

struct OneDnnDeconv::Impl {
  engine eng{engine::kind::cpu, 0};
  stream strm{eng};
  bool blocked;
  memory::desc src_plain, wei_plain, bia_md, dst_plain;
  deconvolution_forward::primitive_desc fwd_pd;
  deconvolution_backward_data::primitive_desc bwd_d_pd;
  deconvolution_backward_weights::primitive_desc bwd_w_pd;
  deconvolution_forward fwd;
  deconvolution_backward_data bwd_d;
  deconvolution_backward_weights bwd_w;
  // Blocked-layout buffers (used when blocked).
  memory f_src, f_wei, f_dst, d_ddst, d_wei, d_dsrc, w_src, w_ddst, w_dwei;

  static memory::dims spatial(std::int64_t v) { return {v, v, v}; }

  Impl(const DeconvShape& s, bool blk) : blocked(blk) {
    const memory::dims src_d{s.N, s.Cin, s.I, s.I, s.I}, dst_d{s.N, s.Cout, s.O, s.O, s.O};
    memory::dims wei_d;
    tag wtag;
    if (s.groups == 1) {
      wei_d = {s.Cout, s.Cin, s.k, s.k, s.k};
      wtag = tag::iodhw;  // lucid's (Cin, Cout, k...) order
    } else {
      wei_d = {s.groups, s.Cout / s.groups, s.Cin / s.groups, s.k, s.k, s.k};
      wtag = tag::giodhw;
    }
    src_plain = memory::desc(src_d, dt::f32, tag::ncdhw);
    dst_plain = memory::desc(dst_d, dt::f32, tag::ncdhw);
    wei_plain = memory::desc(wei_d, dt::f32, wtag);
    bia_md = memory::desc({s.Cout}, dt::f32, tag::x);
    const memory::dims strides = spatial(s.s), dil = spatial(s.d - 1), pl = spatial(s.p), pr = spatial(s.p - s.op);
    auto pick = [&](const memory::desc& plain) {
      return blocked ? memory::desc(plain.dims(), dt::f32, tag::any) : plain;
    };
    const auto src_md = pick(src_plain), wei_md = pick(wei_plain), dst_md = pick(dst_plain);
    fwd_pd = deconvolution_forward::primitive_desc(
        deconvolution_forward::desc(prop_kind::forward_training, algorithm::deconvolution_direct, src_md, wei_md,
                                    bia_md, dst_md, strides, dil, pl, pr),
        eng);
    bwd_d_pd = deconvolution_backward_data::primitive_desc(
        deconvolution_backward_data::desc(algorithm::deconvolution_direct, src_md, wei_md, dst_md, strides, dil, pl, pr),
        eng, fwd_pd);
    bwd_w_pd = deconvolution_backward_weights::primitive_desc(
        deconvolution_backward_weights::desc(algorithm::deconvolution_direct, src_md, wei_md, bia_md, dst_md, strides,
                                             dil, pl, pr),
        eng, fwd_pd);
    fwd = deconvolution_forward(fwd_pd);
    bwd_d = deconvolution_backward_data(bwd_d_pd);
    bwd_w = deconvolution_backward_weights(bwd_w_pd);
    if (blocked) {
      f_src = memory(fwd_pd.src_desc(), eng);
      f_wei = memory(fwd_pd.weights_desc(), eng);
      f_dst = memory(fwd_pd.dst_desc(), eng);
      d_ddst = memory(bwd_d_pd.diff_dst_desc(), eng);
      d_wei = memory(bwd_d_pd.weights_desc(), eng);
      d_dsrc = memory(bwd_d_pd.diff_src_desc(), eng);
      w_src = memory(bwd_w_pd.src_desc(), eng);
      w_ddst = memory(bwd_w_pd.diff_dst_desc(), eng);
      w_dwei = memory(bwd_w_pd.diff_weights_desc(), eng);
    }
  }

  memory wrap(const memory::desc& md, const float* p) { return memory(md, eng, const_cast<float*>(p)); }

  // Reorders plain -> the primitive's layout when they differ (counted in the time).
  memory to(const memory& plain, memory& blocked_mem) {
    if (plain.get_desc() == blocked_mem.get_desc()) return plain;
    reorder(plain, blocked_mem).execute(strm, const_cast<memory&>(plain), blocked_mem);
    return blocked_mem;
  }
  void back(memory& blocked_mem, const memory& plain) {
    if (plain.get_desc() == blocked_mem.get_desc()) return;
    reorder(blocked_mem, plain).execute(strm, blocked_mem, const_cast<memory&>(plain));
  }
};

OneDnnDeconv::OneDnnDeconv(const DeconvShape& shape, bool blocked) : impl_(new Impl(shape, blocked)) {}
OneDnnDeconv::~OneDnnDeconv() = default;

void OneDnnDeconv::forward(const float* x, const float* w, const float* b, float* y) {
  Impl& m = *impl_;
  memory src = m.wrap(m.src_plain, x), wei = m.wrap(m.wei_plain, w), bia = m.wrap(m.bia_md, b), dst = m.wrap(m.dst_plain, y);
  if (!m.blocked) {
    m.fwd.execute(m.strm, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_BIAS, bia}, {DNNL_ARG_DST, dst}});
  } else {
    memory s = m.to(src, m.f_src), wt = m.to(wei, m.f_wei);
    memory d = m.f_dst.get_desc() == dst.get_desc() ? dst : m.f_dst;
    m.fwd.execute(m.strm, {{DNNL_ARG_SRC, s}, {DNNL_ARG_WEIGHTS, wt}, {DNNL_ARG_BIAS, bia}, {DNNL_ARG_DST, d}});
    m.back(m.f_dst, dst);
  }
  m.strm.wait();
}

void OneDnnDeconv::backward(const float* x, const float* w, const float* gy, float* gx, float* gw, float* gb) {
  Impl& m = *impl_;
  memory src = m.wrap(m.src_plain, x), wei = m.wrap(m.wei_plain, w), ddst = m.wrap(m.dst_plain, gy);
  memory dsrc = m.wrap(m.src_plain, gx), dwei = m.wrap(m.wei_plain, gw), dbia = m.wrap(m.bia_md, gb);
  if (!m.blocked) {
    m.bwd_d.execute(m.strm, {{DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DIFF_SRC, dsrc}});
    m.bwd_w.execute(m.strm, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_DIFF_WEIGHTS, dwei},
                             {DNNL_ARG_DIFF_BIAS, dbia}});
  } else {
    memory dd = m.to(ddst, m.d_ddst), wt = m.to(wei, m.d_wei);
    memory ds = m.d_dsrc.get_desc() == dsrc.get_desc() ? dsrc : m.d_dsrc;
    m.bwd_d.execute(m.strm, {{DNNL_ARG_DIFF_DST, dd}, {DNNL_ARG_WEIGHTS, wt}, {DNNL_ARG_DIFF_SRC, ds}});
    m.back(m.d_dsrc, dsrc);
    memory s = m.to(src, m.w_src), dd2 = m.w_ddst.get_desc() == dd.get_desc() ? dd : m.to(ddst, m.w_ddst);
    memory dw = m.w_dwei.get_desc() == dwei.get_desc() ? dwei : m.w_dwei;
    m.bwd_w.execute(m.strm, {{DNNL_ARG_SRC, s}, {DNNL_ARG_DIFF_DST, dd2}, {DNNL_ARG_DIFF_WEIGHTS, dw},
                             {DNNL_ARG_DIFF_BIAS, dbia}});
    m.back(m.w_dwei, dwei);
  }
  m.strm.wait();
}
