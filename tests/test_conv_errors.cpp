// Every misuse of a convolution raises before any work, with a message that
// names the function, the parameter and the values.
#include <gtest/gtest.h>

#include "lucid/lucid.h"

using lucid::Tensor;
namespace nn = lucid::nn;

#define EXPECT_ERROR(stmt, type, text)                                                  \
  do {                                                                                   \
    try {                                                                                \
      stmt;                                                                              \
      ADD_FAILURE() << "no exception from " #stmt;                                       \
    } catch (const type& e) {                                                            \
      EXPECT_EQ(std::string(e.what()), std::string(text));                               \
    } catch (const std::exception& e) {                                                  \
      ADD_FAILURE() << "wrong exception type from " #stmt ": " << e.what();              \
    }                                                                                    \
  } while (0)

namespace {
Tensor x3() { return Tensor::zeros({1, 4, 3, 3, 3}); }
Tensor w3() { return Tensor::zeros({4, 2, 3, 3, 3}); }
}  // namespace

TEST(ConvErrors, WrongRank) {
  EXPECT_ERROR(lucid::conv_transpose3d(Tensor::zeros({4, 3, 3}), w3()), lucid::ValueError,
               "[conv_transpose3d] input must be 4-D (unbatched) or 5-D (batched), got shape (4, 3, 3)");
  EXPECT_ERROR(lucid::conv_transpose3d(x3(), Tensor::zeros({4, 2, 3, 3})), lucid::ValueError,
               "[conv_transpose3d] weight must be 5-D (C, C, kD, kH, kW), got shape (4, 2, 3, 3)");
  EXPECT_ERROR(lucid::conv_transpose1d(Tensor::zeros({1, 1, 1, 4}), Tensor::zeros({1, 1, 2})), lucid::ValueError,
               "[conv_transpose1d] input must be 2-D (unbatched) or 3-D (batched), got shape (1, 1, 1, 4)");
}

TEST(ConvErrors, ChannelsDoNotMatchWeight) {
  EXPECT_ERROR(lucid::conv_transpose3d(Tensor::zeros({1, 3, 3, 3, 3}), w3()), lucid::ValueError,
               "[conv_transpose3d] input has 3 channels but weight.shape[0]=4 (in_channels); weight shape (4, 2, 3, 3, 3)");
  EXPECT_ERROR(lucid::conv3d(x3(), Tensor::zeros({2, 3, 3, 3, 3})), lucid::ValueError,
               "[conv3d] input has 4 channels but weight.shape[1]=3 times groups=1 is 3; weight shape (2, 3, 3, 3, 3)");
}

TEST(ConvErrors, GroupsMustDivide) {
  EXPECT_ERROR(lucid::conv_transpose3d(x3(), w3(), Tensor(), 1, 0, 0, 1, 3), lucid::ValueError,
               "[conv_transpose3d] groups=3 must divide in_channels=4");
  EXPECT_ERROR(lucid::conv_transpose3d(x3(), w3(), Tensor(), 1, 0, 0, 1, 0), lucid::ValueError,
               "[conv_transpose3d] groups=0 must be positive");
  EXPECT_ERROR(nn::ConvTranspose3d(4, 6, 3, 1, 0, 0, 1, 4), lucid::ValueError,
               "[ConvTranspose3d] groups=4 must divide out_channels=6");
}

TEST(ConvErrors, TupleOfWrongLength) {
  EXPECT_ERROR(lucid::conv_transpose3d(x3(), w3(), Tensor(), {2, 2}), lucid::ValueError,
               "[conv_transpose3d] stride=(2, 2) must be an int or a tuple of 3 ints, got 2 values");
  EXPECT_ERROR(nn::ConvTranspose2d(2, 2, {3, 3, 3}), lucid::ValueError,
               "[ConvTranspose2d] kernel_size=(3, 3, 3) must be an int or a tuple of 2 ints, got 3 values");
  EXPECT_ERROR(lucid::conv_transpose2d(Tensor::zeros({1, 1, 3, 3}), Tensor::zeros({1, 1, 2, 2}), Tensor(), 1,
                                       std::vector<std::int64_t>{1}),
               lucid::ValueError, "[conv_transpose2d] padding=(1,) must be an int or a tuple of 2 ints, got 1 values");
}

TEST(ConvErrors, NonPositiveSizes) {
  EXPECT_ERROR(lucid::conv_transpose3d(x3(), w3(), Tensor(), {1, 0, 1}), lucid::ValueError,
               "[conv_transpose3d] stride[1]=0 must be positive");
  EXPECT_ERROR(lucid::conv_transpose3d(x3(), w3(), Tensor(), 1, 0, 0, {1, 1, -2}), lucid::ValueError,
               "[conv_transpose3d] dilation[2]=-2 must be positive");
  EXPECT_ERROR(lucid::conv_transpose3d(x3(), Tensor::zeros({4, 2, 3, 0, 3})), lucid::ValueError,
               "[conv_transpose3d] kernel_size[1]=0 must be positive (weight shape (4, 2, 3, 0, 3))");
  EXPECT_ERROR(lucid::conv_transpose3d(Tensor::zeros({1, 4, 3, 0, 3}), w3()), lucid::ValueError,
               "[conv_transpose3d] input spatial size[1]=0 must be positive (input shape (1, 4, 3, 0, 3))");
  EXPECT_ERROR(nn::ConvTranspose3d(0, 2, 3), lucid::ValueError, "[ConvTranspose3d] in_channels=0 must be positive");
  EXPECT_ERROR(nn::ConvTranspose3d(2, 2, {3, 0, 3}), lucid::ValueError,
               "[ConvTranspose3d] kernel_size[1]=0 must be positive");
}

TEST(ConvErrors, NegativePadding) {
  EXPECT_ERROR(lucid::conv_transpose3d(x3(), w3(), Tensor(), 1, {0, -1, 0}), lucid::ValueError,
               "[conv_transpose3d] padding[1]=-1 must be non-negative");
}

TEST(ConvErrors, UnknownPaddingString) {
  EXPECT_ERROR(lucid::conv_transpose3d(x3(), w3(), Tensor(), 1, "full"), lucid::ValueError,
               "[conv_transpose3d] padding='full' must be 'same', 'valid', an int or a tuple of 3 ints");
  EXPECT_ERROR(nn::ConvTranspose1d(2, 2, 3, 1, "SAME"), lucid::ValueError,
               "[ConvTranspose1d] padding='SAME' must be 'same', 'valid', an int or a tuple of 1 ints");
}

TEST(ConvErrors, OutputPaddingOutOfRange) {
  EXPECT_ERROR(lucid::conv_transpose3d(x3(), w3(), Tensor(), 2, 0, {0, 2, 0}), lucid::ValueError,
               "[conv_transpose3d] output_padding[1]=2 must be smaller than stride[1]=2 or dilation[1]=1");
  EXPECT_ERROR(lucid::conv_transpose3d(x3(), w3(), Tensor(), 2, "same", 1), lucid::ValueError,
               "[conv_transpose3d] output_padding[0]=1 must be 0 with padding='same'");
  EXPECT_ERROR(lucid::conv_transpose3d(x3(), w3(), Tensor(), 2, 0, -1), lucid::ValueError,
               "[conv_transpose3d] output_padding[0]=-1 must be non-negative");
  EXPECT_ERROR(nn::ConvTranspose3d(4, 2, 3, 1, 0, 1), lucid::ValueError,
               "[ConvTranspose3d] output_padding[0]=1 must be smaller than stride[0]=1 or dilation[0]=1");
}

TEST(ConvErrors, OutputSizeUnreachable) {
  nn::ConvTranspose2d m(1, 1, 3, 2, 1);
  EXPECT_ERROR(m.forward(Tensor::zeros({1, 1, 4, 4}), {9, 7}), lucid::ValueError,
               "[conv_transpose2d] output_size[0]=9 cannot be reached: sizes 7 to 8 are possible for input size 4");
  EXPECT_ERROR(m.forward(Tensor::zeros({1, 1, 4, 4}), {7}), lucid::ValueError,
               "[conv_transpose2d] output_size=(7,) must have 2 or 4 entries");
}

TEST(ConvErrors, OutputTooSmall) {
  EXPECT_ERROR(lucid::conv_transpose1d(Tensor::zeros({1, 1, 2}), Tensor::zeros({1, 1, 2}), Tensor(), 1, 2),
               lucid::ValueError,
               "[conv_transpose1d] the output size[0] would be -1 (input size 2, kernel_size 2, stride 1, padding 2, "
               "dilation 1); it must be at least 1");
  EXPECT_ERROR(lucid::conv1d(Tensor::zeros({1, 1, 2}), Tensor::zeros({1, 1, 5})), lucid::ValueError,
               "[conv1d] the padded input size[0]=2 is smaller than the dilated kernel size 5; the output would be empty");
}

TEST(ConvErrors, ShapeOverflow) {
  EXPECT_ERROR(lucid::conv_transpose1d(Tensor::zeros({1, 1, 3}), Tensor::zeros({1, 1, 2}), Tensor(),
                                       std::int64_t{1} << 62),
               lucid::ValueError, "[conv_transpose1d] the output size overflows 64 bits");
  EXPECT_ERROR(lucid::conv_transpose1d(Tensor::zeros({1, 1, 2}), Tensor::zeros({1, 1, 2}), Tensor(),
                                       std::int64_t{1} << 62),
               lucid::ValueError,
               "[conv_transpose1d] the output shape (1, 1, 4611686018427387906) has 4611686018427387906 elements; "
               "its byte count overflows 64 bits");
  // Each axis fits, the element count does not: refused before allocating.
  EXPECT_ERROR(lucid::conv_transpose3d(Tensor::zeros({1, 1, 2, 2, 2}), Tensor::zeros({1, 1, 1, 1, 1}), Tensor(),
                                       std::int64_t{1} << 30),
               lucid::ValueError,
               "[conv_transpose3d] the element count of the output shape (1, 1, 1073741825, 1073741825, 1073741825) "
               "overflows 64 bits");
}

TEST(ConvErrors, ImpossibleAllocation) {
  // (2^19 + 1)^3 float32 elements: about 2^61 bytes, which no machine has.
  const std::int64_t len = (std::int64_t{1} << 19) + 1;
  EXPECT_ERROR(lucid::conv_transpose3d(Tensor::zeros({1, 1, 2, 2, 2}), Tensor::zeros({1, 1, 1, 1, 1}), Tensor(),
                                       std::int64_t{1} << 19),
               lucid::MemoryError,
               "[allocate] out of memory: cannot allocate " + std::to_string(len * len * len * 4) + " bytes");
}

TEST(ConvErrors, BiasShape) {
  EXPECT_ERROR(lucid::conv_transpose3d(x3(), w3(), Tensor::zeros({3})), lucid::ValueError,
               "[conv_transpose3d] bias must have shape (2,) (out_channels), got (3,)");
}

TEST(ConvErrors, UndefinedTensors) {
  EXPECT_ERROR(lucid::conv_transpose3d(Tensor(), w3()), lucid::TypeError, "[conv_transpose3d] input is undefined (None)");
  EXPECT_ERROR(lucid::conv_transpose3d(x3(), Tensor()), lucid::TypeError, "[conv_transpose3d] weight is undefined (None)");
}
