// keras_dyn's fused gradient-statistics kernel: one TensorFlow op that reduces each of a list
// of float32 tensors to [L2 norm, mean |g|, std, zero fraction] in a single pass over memory,
// and on request (a bool input, so the training graph needs no tf.cond) also bins them into the
// histograms keras_dyn records.
//
// Built and loaded by keras_dyn/gradient_table.py (g++ with TensorFlow's own compile and link
// flags, once per TensorFlow version, cached); the same four numbers as the pure-TensorFlow
// formulation there, which is used when this kernel cannot be built.
//
// Accuracy: each block of kBlock elements is summed in float32 (vectorised, in any order the
// compiler picks for these loops only), the blocks in float64; see Reduce for the deviation.
#include <cmath>
#include <algorithm>
#include <cstdint>
#include <vector>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace keras_dyn {

using ::tensorflow::OpInputList;
using ::tensorflow::OpKernel;
using ::tensorflow::OpKernelConstruction;
using ::tensorflow::OpKernelContext;
using ::tensorflow::Tensor;
using ::tensorflow::TensorShape;

REGISTER_OP("KerasDynGradientStats")
    .Input("grads: N * float")
    .Input("histogram: bool")
    .Input("log_histogram: bool")
    .Attr("N: int >= 1")
    .Attr("bins: int >= 1 = 30")
    .Attr("log_lo: float = -10.0")
    .Attr("log_hi: float = 1.0")
    .Attr("log_bins: int >= 1 = 44")
    .Output("table: float")
    .Output("hist: float")
    .Output("log_hist: float")
    .SetShapeFn([](::tensorflow::shape_inference::InferenceContext* c) {
      int n, bins, log_bins;
      TF_RETURN_IF_ERROR(c->GetAttr("N", &n));
      TF_RETURN_IF_ERROR(c->GetAttr("bins", &bins));
      TF_RETURN_IF_ERROR(c->GetAttr("log_bins", &log_bins));
      ::tensorflow::shape_inference::ShapeHandle scalar;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(n), 0, &scalar));      // histogram
      TF_RETURN_IF_ERROR(c->WithRank(c->input(n + 1), 0, &scalar));  // log_histogram
      c->set_output(0, c->Matrix(n, 4));
      c->set_output(1, c->MakeShape({n, bins, 3}));
      c->set_output(2, c->Matrix(n, log_bins));
      return absl::OkStatus();
    })
    .Doc(R"doc(
Per-tensor statistics of a list of gradients. Row i of `table` holds the L2 norm, the mean
absolute value, the (population) standard deviation and the fraction of exact zeros of grads[i].
If `histogram` is true, hist[i] is a `bins`-bucket equal-width histogram of grads[i] from its
minimum to its maximum as (left edge, right edge, count) rows, binned like
tf.histogram_fixed_width (a constant tensor gets the range value - 0.5 to value + 0.5), else
zeros. If `log_histogram` is true, log_hist[i] counts log10|g| of the non-zero elements in
`log_bins` equal buckets on [log_lo, log_hi] (values outside go to the end buckets), else zeros.
)doc");

namespace {

constexpr int64_t kBlock = 4096;

struct Sums {
  double sum = 0, sum_abs = 0, sum_sq = 0, nonzero = 0;
  double m2 = 0;  // sum of squared deviations from the mean (for the standard deviation)
  float lo = 0, hi = 0;  // min and max
};

// Two passes per block of kBlock elements: the first reads memory (sum, sum |x|, sum x^2, count
// of non-zeros), the second re-reads the block from L1 cache for its sum of squared deviations
// about the block mean. Blocks are merged with Chan et al.'s pairwise update, so the standard
// deviation stays accurate when |mean| >> std (sum x^2 / n - mean^2 would cancel).
__attribute__((target_clones("avx512f", "avx2", "default")))
Sums Reduce(const float* p, int64_t n) {
  Sums out;
  double count = 0, mean = 0;
  float lo = n > 0 ? p[0] : 0.f, hi = lo;
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t e = b + kBlock < n ? b + kBlock : n;
    float s = 0.f, sa = 0.f, sq = 0.f, nz = 0.f;
#pragma omp simd reduction(+ : s, sa, sq, nz) reduction(min : lo) reduction(max : hi)
    for (int64_t i = b; i < e; ++i) {
      const float x = p[i];
      lo = x < lo ? x : lo;
      hi = x > hi ? x : hi;
      s += x;
      sa += std::fabs(x);
      sq += x * x;
      nz += (x != 0.f) ? 1.f : 0.f;  // NaN counts as non-zero
    }
    const double nb = static_cast<double>(e - b);
    const float block_mean = static_cast<float>(s / nb);
    float m2 = 0.f;
#pragma omp simd reduction(+ : m2)
    for (int64_t i = b; i < e; ++i) {
      const float d = p[i] - block_mean;
      m2 += d * d;
    }
    const double delta = static_cast<double>(s) / nb - mean;
    const double total = count + nb;
    out.m2 += m2 + delta * delta * count * nb / total;
    mean += delta * nb / total;
    count = total;
    out.sum += s;
    out.sum_abs += sa;
    out.sum_sq += sq;
    out.nonzero += nz;
  }
  out.lo = lo;
  out.hi = hi;
  return out;
}

// Counts of floor((max(x, lo) - lo) / (hi - lo) * bins), capped at bins - 1: the binning of
// tf.histogram_fixed_width. With `log10_nonzero`, x is log10|p[i]| and exact zeros are skipped.
void Bin(const float* p, int64_t n, float lo, float hi, int bins, bool log10_nonzero,
         double* counts) {
  const double step = static_cast<double>(hi) - static_cast<double>(lo);
  const float inv_ln10 = static_cast<float>(1.0 / std::log(10.0));
  std::vector<int64_t> c(4 * static_cast<size_t>(bins));  // four interleaved tallies avoid
                                                          // store-to-load stalls
  for (int64_t i = 0; i < n; ++i) {
    float x = p[i];
    if (log10_nonzero) {
      if (x == 0.f) continue;
      x = std::log(std::fabs(x)) * inv_ln10;
    }
    const float shifted = (x > lo ? x : lo) - lo;
    int64_t k = static_cast<int64_t>(static_cast<double>(shifted) / step * bins);
    if (k > bins - 1) k = bins - 1;
    if (k < 0) k = 0;  // NaN lands in bucket 0
    ++c[(i & 3) * bins + k];
  }
  for (int k = 0; k < bins; ++k) {
    counts[k] = static_cast<double>(c[k] + c[bins + k] + c[2 * bins + k] + c[3 * bins + k]);
  }
}

}  // namespace

class GradientStatsOp : public OpKernel {
 public:
  explicit GradientStatsOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("bins", &bins_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("log_bins", &log_bins_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("log_lo", &log_lo_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("log_hi", &log_hi_));
    OP_REQUIRES(ctx, log_hi_ > log_lo_,
                absl::InvalidArgumentError("log_hi must be larger than log_lo"));
  }

  void Compute(OpKernelContext* ctx) override {
    OpInputList grads;
    OP_REQUIRES_OK(ctx, ctx->input_list("grads", &grads));
    const bool want_hist = ctx->input(grads.size()).scalar<bool>()();
    const bool want_log = ctx->input(grads.size() + 1).scalar<bool>()();
    const int64_t nv = grads.size();
    Tensor *out = nullptr, *hist = nullptr, *log_hist = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({nv, 4}), &out));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({nv, bins_, 3}), &hist));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, TensorShape({nv, log_bins_}), &log_hist));
    auto table = out->matrix<float>();
    auto h = hist->tensor<float, 3>();
    auto lh = log_hist->matrix<float>();
    h.setZero();
    lh.setZero();
    std::vector<double> counts(std::max(bins_, log_bins_));
    for (int v = 0; v < nv; ++v) {
      const auto flat = grads[v].flat<float>();
      const int64_t n = flat.size();
      const Sums s = Reduce(flat.data(), n);
      const double count = n > 0 ? static_cast<double>(n) : 1.0;
      const double var = s.m2 / count;
      table(v, 0) = static_cast<float>(std::sqrt(s.sum_sq));
      table(v, 1) = static_cast<float>(s.sum_abs / count);
      table(v, 2) = static_cast<float>(std::sqrt(var));
      table(v, 3) = static_cast<float>(n > 0 ? 1.0 - s.nonzero / count : 0.0);
      if (want_hist) {
        float lo = s.lo, hi = s.hi;
        if (lo == hi) {
          lo -= 0.5f;
          hi += 0.5f;
        }
        Bin(flat.data(), n, lo, hi, bins_, false, counts.data());
        const double width = (static_cast<double>(hi) - lo) / bins_;
        for (int k = 0; k < bins_; ++k) {
          h(v, k, 0) = static_cast<float>(lo + k * width);
          h(v, k, 1) = k + 1 == bins_ ? hi : static_cast<float>(lo + (k + 1) * width);
          h(v, k, 2) = static_cast<float>(counts[k]);
        }
      }
      if (want_log) {
        Bin(flat.data(), n, log_lo_, log_hi_, log_bins_, true, counts.data());
        for (int k = 0; k < log_bins_; ++k) lh(v, k) = static_cast<float>(counts[k]);
      }
    }
  }

 private:
  int bins_ = 30, log_bins_ = 44;
  float log_lo_ = -10.f, log_hi_ = 1.f;
};

REGISTER_KERNEL_BUILDER(Name("KerasDynGradientStats").Device(::tensorflow::DEVICE_CPU), GradientStatsOp);

}  // namespace keras_dyn
